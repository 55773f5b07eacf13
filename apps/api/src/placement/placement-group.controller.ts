import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { NAME_PATTERN } from '@hyperplane/domain';
import { PG_UNIQUE_VIOLATION, pgErrorCode, PlacementGroupEntity, PlacementGroupRepository } from '@hyperplane/db';
import { CurrentPrincipal } from '../auth/auth.decorators';
import { canChange, canSeeProject, Principal } from '../auth/principal';
import { uuid } from '../common/params';
import { problems } from '../common/problem';
import { ProjectScope } from '../projects/project-scope.service';
import { CreatePlacementGroupDto, PlacementGroupDto } from './placement-group.dto';

export class ListGroupsQuery {
  @ApiPropertyOptional({ description: 'Project name' })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: 'project must be a project name' })
  project?: string;
}

/** Affinity and anti-affinity groups; an instance joins one with placement.group. */
@ApiTags('placement')
@ApiBearerAuth()
@Controller('v1/placement-groups')
export class PlacementGroupController {
  constructor(
    private readonly groups: PlacementGroupRepository,
    private readonly scope: ProjectScope,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiCreatedResponse({ type: PlacementGroupDto })
  @ApiConflictResponse({ description: 'A group of that name exists in the project' })
  async create(@CurrentPrincipal() principal: Principal, @Body() dto: CreatePlacementGroupDto): Promise<PlacementGroupDto> {
    const project = await this.scope.forChange(principal, dto.project);
    const row: Partial<PlacementGroupEntity> = {
      id: randomUUID(),
      projectId: project.id,
      name: dto.name,
      policy: dto.policy,
      strict: dto.strict ?? true,
      maxPerHost: dto.maxPerHost ?? null,
    };
    try {
      await this.groups.insert(row);
    } catch (e) {
      if (pgErrorCode(e) === PG_UNIQUE_VIOLATION) throw problems.conflict(`a placement group named ${dto.name} already exists in project ${project.name}`, { field: 'name' });
      throw e;
    }
    return PlacementGroupDto.from((await this.groups.get(row.id!))!);
  }

  @Get()
  @ApiOkResponse({ type: [PlacementGroupDto] })
  async list(@CurrentPrincipal() principal: Principal, @Query() q: ListGroupsQuery): Promise<{ items: PlacementGroupDto[] }> {
    const rows = await this.groups.list(await this.scope.forRead(principal, q.project));
    return { items: rows.map(PlacementGroupDto.from) };
  }

  @Get(':id')
  @ApiOkResponse({ type: PlacementGroupDto })
  async get(@CurrentPrincipal() principal: Principal, @Param('id', uuid('placement group')) id: string): Promise<PlacementGroupDto> {
    return PlacementGroupDto.from(await this.visible(principal, id));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiConflictResponse({ description: 'The group still has instances' })
  async remove(@CurrentPrincipal() principal: Principal, @Param('id', uuid('placement group')) id: string): Promise<void> {
    const group = await this.visible(principal, id);
    if (!canChange(principal, group.projectId)) throw problems.forbidden(`the token (${principal.role}) may not change placement groups`);
    if (!(await this.groups.deleteIfEmpty(id))) {
      const members = await this.groups.liveMembers(id);
      throw problems.conflict(`placement group ${group.name} still has ${members} instance(s); delete them first`, { members });
    }
  }

  private async visible(principal: Principal, id: string): Promise<PlacementGroupEntity> {
    const group = await this.groups.get(id);
    if (!group || !canSeeProject(principal, group.projectId)) throw problems.notFound('placement group', id);
    return group;
  }
}

