import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { ProjectEntity, ProjectRepository, TokenRepository } from '@hyperplane/db';
import { PlacementPolicy } from '@hyperplane/scheduler';
import { PreviewService } from '../placement/preview.service';
import { CurrentPrincipal, FleetWide, Roles } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { TokenService } from '../auth/token.service';
import { uuid } from '../common/params';
import { problems } from '../common/problem';
import { CreateEnrollmentTokenDto, CreateProjectDto, CreateTokenDto, IssuedSecretDto, ListTokensQuery, PolicyOverrideDto, RevokeTokenQuery } from './admin.dto';

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

/** Tokens, enrollment tokens and projects: fleet-wide admins only. */
@ApiTags('admin')
@ApiBearerAuth()
@Roles('admin')
@FleetWide()
@Controller('v1')
export class AdminController {
  constructor(
    private readonly tokenService: TokenService,
    private readonly tokens: TokenRepository,
    private readonly projects: ProjectRepository,
    private readonly previews: PreviewService,
  ) {}

  @Post('tokens')
  @HttpCode(201)
  @ApiCreatedResponse({ type: IssuedSecretDto })
  async createToken(@CurrentPrincipal() principal: Principal, @Body() dto: CreateTokenDto): Promise<IssuedSecretDto & { role: string; projectId: string | null }> {
    let projectId: string | null = null;
    if (dto.project) {
      const project = await this.projects.findByName(dto.project);
      if (!project) throw problems.badField('project', `no project named ${dto.project}`);
      projectId = project.id;
    }
    if (dto.role === 'admin' && projectId) throw problems.badField('role', 'an admin token is fleet-wide; give no project');
    const { token, secret } = await this.tokenService.issue({ name: dto.name, role: dto.role, projectId, createdBy: principal.tokenId, expiresInS: dto.expiresInS, requestsPerMinute: dto.requestsPerMinute });
    return { id: token.id, name: token.name, role: token.role, projectId, token: secret, expiresAt: iso(token.expiresAt) };
  }

  @Get('tokens')
  @ApiOkResponse({ description: 'Tokens without their secrets' })
  async listTokens(@Query() q: ListTokensQuery): Promise<{ items: unknown[] }> {
    const rows = await this.tokens.listApiTokens({ createdByRevoked: q.createdByRevoked === 'true' });
    return {
      items: rows.map((t) => ({
        id: t.id,
        name: t.name,
        prefix: t.prefix,
        role: t.role,
        projectId: t.projectId,
        createdBy: t.createdBy,
        bootstrap: t.bootstrap,
        requestsPerMinute: t.rateLimitPerMinute,
        createdAt: iso(t.createdAt),
        expiresAt: iso(t.expiresAt),
        revokedAt: iso(t.revokedAt),
      })),
    };
  }

  @Delete('tokens/:id')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Revoked; with cascade=true, so is everything minted from it' })
  async revokeToken(@CurrentPrincipal() principal: Principal, @Param('id', uuid('token')) id: string, @Query() q: RevokeTokenQuery): Promise<void> {
    if (id === principal.tokenId) throw problems.conflict('a token cannot revoke itself; use another admin token');
    if (!(await this.tokens.getApiToken(id))) throw problems.notFound('token', id);
    if (q.cascade !== 'true') {
      await this.tokenService.revoke(id);
      return;
    }
    // The same rule as above, one step removed: a token minted from the one revoked would cut off its own branch.
    if ((await this.tokens.lineage(id)).includes(principal.tokenId)) {
      throw problems.conflict(`the token making this request was minted from ${id} and would be revoked with it; use an admin token from outside that lineage`);
    }
    await this.tokenService.revokeCascade(id);
  }

  @Post('enrollment-tokens')
  @HttpCode(201)
  @ApiCreatedResponse({ type: IssuedSecretDto, description: 'Give the token to agents as HYPERPLANE_ENROLLMENT_TOKEN' })
  async createEnrollmentToken(@CurrentPrincipal() principal: Principal, @Body() dto: CreateEnrollmentTokenDto): Promise<IssuedSecretDto & { maxHosts: number | null }> {
    const { token, secret } = await this.tokenService.issueEnrollment({ name: dto.name, createdBy: principal.tokenId, maxHosts: dto.maxHosts, expiresInS: dto.expiresInS });
    return { id: token.id, name: token.name, token: secret, maxHosts: token.maxHosts, expiresAt: iso(token.expiresAt) };
  }

  @Get('enrollment-tokens')
  @ApiOkResponse()
  async listEnrollmentTokens(@Query() q: ListTokensQuery): Promise<{ items: unknown[] }> {
    const rows = await this.tokens.listEnrollmentTokens({ createdByRevoked: q.createdByRevoked === 'true' });
    return {
      items: rows.map((t) => ({
        id: t.id,
        name: t.name,
        maxHosts: t.maxHosts,
        hostsEnrolled: t.hostsEnrolled,
        createdBy: t.createdBy,
        bootstrap: t.bootstrap,
        createdAt: iso(t.createdAt),
        expiresAt: iso(t.expiresAt),
        revokedAt: iso(t.revokedAt),
      })),
    };
  }

  @Delete('enrollment-tokens/:id')
  @HttpCode(204)
  @ApiNoContentResponse()
  async revokeEnrollmentToken(@Param('id', uuid('enrollment token')) id: string): Promise<void> {
    if (!(await this.tokens.revokeEnrollmentToken(id))) throw problems.notFound('enrollment token', id);
  }

  @Post('projects')
  @HttpCode(201)
  @ApiCreatedResponse()
  async createProject(@Body() dto: CreateProjectDto): Promise<{ id: string; name: string; description: string }> {
    if (await this.projects.findByName(dto.name)) throw problems.conflict(`a project named ${dto.name} already exists`, { field: 'name' });
    const id = randomUUID();
    await this.projects.insert({ id, name: dto.name, description: dto.description ?? '' }).catch(async (e: unknown) => {
      if (await this.projects.findByName(dto.name)) throw problems.conflict(`a project named ${dto.name} already exists`, { field: 'name' });
      throw e;
    });
    return { id, name: dto.name, description: dto.description ?? '' };
  }

  @Get('projects/:name/policy')
  @ApiOkResponse({ description: 'The project\'s overrides and the policy in effect for it' })
  async getPolicy(@Param('name') name: string): Promise<{ project: string; overrides: Record<string, unknown>; effective: PlacementPolicy }> {
    const project = await this.project(name);
    return { project: project.name, overrides: project.policy ?? {}, effective: this.previews.policyOf(project.policy) };
  }

  @Put('projects/:name/policy')
  @ApiOkResponse({ description: 'The overrides are replaced; placements from now on use them' })
  async putPolicy(@Param('name') name: string, @Body() dto: PolicyOverrideDto): Promise<{ project: string; overrides: Record<string, unknown>; effective: PlacementPolicy }> {
    const project = await this.project(name);
    const overrides = JSON.parse(JSON.stringify(dto)) as Record<string, unknown>;
    await this.projects.setPolicy(project.id, overrides);
    return { project: project.name, overrides, effective: this.previews.policyOf(overrides) };
  }

  private async project(name: string): Promise<ProjectEntity> {
    const project = /^[a-z0-9][a-z0-9-]{0,62}$/.test(name) ? await this.projects.findByName(name) : null;
    if (!project) throw problems.notFound('project', name);
    return project;
  }

  @Get('projects')
  @ApiOkResponse()
  async listProjects(): Promise<{ items: unknown[] }> {
    const rows = await this.projects.list();
    return { items: rows.map((p) => ({ id: p.id, name: p.name, description: p.description, createdAt: iso(p.createdAt) })) };
  }
}
