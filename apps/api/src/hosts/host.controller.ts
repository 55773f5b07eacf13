import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiAcceptedResponse, ApiBadRequestResponse, ApiBearerAuth, ApiConflictResponse, ApiHeader, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiParam, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { HOST_STATUSES, HostStatus, isUuid, OS_FAMILIES, OsFamily } from '@hyperplane/domain';
import { HostEntity, HostRepository } from '@hyperplane/db';
import { HeartbeatStore } from '@hyperplane/queue';
import { CurrentPrincipal, FleetWide, Roles } from '../auth/auth.decorators';
import { Principal } from '../auth/principal';
import { Idempotency, IdempotencyContext } from '../common/idempotency';
import { accepted, IDEMPOTENCY_HEADER } from '../operations/accepted';
import { OperationDto } from '../operations/operation.dto';
import { PageQuery, Page } from '../common/pagination';
import { uuid } from '../common/params';
import { problems } from '../common/problem';
import { HostDto } from './host.dto';
import { DrainDeadline, HOST_ACTIONS, HostAction, HostService } from './host.service';

export class ListHostsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: HOST_STATUSES })
  @IsOptional()
  @IsIn(HOST_STATUSES)
  status?: HostStatus;

  @ApiPropertyOptional({ enum: OS_FAMILIES })
  @IsOptional()
  @IsIn(OS_FAMILIES)
  os?: OsFamily;
}

export class HostActionDto {
  @ApiPropertyOptional({ description: 'Why, for whoever looks at the host next (its statusReason)', maxLength: 200, example: 'kernel upgrade' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  reason?: string;

  @ApiPropertyOptional({
    description:
      'drain only: when it passes and instances remain, the controller evacuates the host (one `evacuate` operation, as POST …/actions/evacuate). ' +
      'An ISO-8601 timestamp with a time zone, in the future. Draining a draining host with a deadline moves its deadline. Not with deadlineS.',
    format: 'date-time',
    example: '2026-12-05T22:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'deadline must be an ISO-8601 timestamp' })
  @Matches(/(Z|[+-]\d\d(:?\d\d)?)$/i, { message: 'deadline must name its time zone (Z or ±hh:mm)' })
  deadline?: string;

  @ApiPropertyOptional({ description: 'drain only: the deadline in seconds from now (1 to 31536000). Not with deadline.', minimum: 1, maximum: 31_536_000, example: 3600 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(31_536_000)
  deadlineS?: number;
}

export class RenameHostDto {
  @ApiProperty({ example: 'node-17', description: 'Unique in the fleet' })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, { message: 'name must be a host name' })
  name!: string;
}

export class RemoveHostQuery {
  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'Remove a lost host with instances still on it: they go to error' })
  @IsOptional()
  @IsIn(['true', 'false'])
  force?: 'true' | 'false';
}

/** The drain's deadline from the body: a Date, seconds from now (on the database's clock), or none. */
function drainDeadlineOf(action: string, dto: HostActionDto): DrainDeadline | undefined {
  const field = dto.deadline !== undefined ? 'deadline' : dto.deadlineS !== undefined ? 'deadlineS' : null;
  if (!field) return undefined;
  if (action !== 'drain') throw problems.badField(field, `only drain takes a deadline, not ${action}`);
  if (dto.deadline !== undefined && dto.deadlineS !== undefined) throw problems.badField('deadlineS', 'give deadline or deadlineS, not both');
  if (dto.deadlineS !== undefined) return { inS: dto.deadlineS };
  const at = new Date(dto.deadline!);
  if (Number.isNaN(at.getTime())) throw problems.badField('deadline', 'not a timestamp');
  if (at.getTime() <= Date.now()) throw problems.badField('deadline', `${at.toISOString()} has passed; give a time in the future (or evacuate now: POST /v1/hosts/{id}/actions/evacuate)`);
  return at;
}

function encodeHostCursor(h: { name: string; id: string }): string {
  return Buffer.from(JSON.stringify([h.name, h.id])).toString('base64url');
}

function decodeHostCursor(cursor: string | undefined): { name: string; id: string } | undefined {
  if (!cursor) return undefined;
  try {
    const [name, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(name) && isUuid(id)) return { name, id };
  } catch {
    // fall through
  }
  throw problems.badField('cursor', 'not a cursor this API gave out');
}

/** The fleet: for fleet-wide tokens only; project tokens see their instances, not hosts. */
@ApiTags('hosts')
@ApiBearerAuth()
@FleetWide()
@Controller('v1/hosts')
export class HostController {
  constructor(
    private readonly hosts: HostRepository,
    private readonly service: HostService,
    @Inject(HeartbeatStore) private readonly heartbeats: HeartbeatStore,
  ) {}

  @Get()
  @ApiOkResponse({ description: 'A page of hosts by name' })
  async list(@Query() q: ListHostsQuery): Promise<Page<HostDto>> {
    const limit = q.limit ?? 100;
    const rows = await this.hosts.list({ status: q.status, os: q.os, afterName: decodeHostCursor(q.cursor), limit: limit + 1 });
    const page = rows.slice(0, limit);
    const beats = await this.heartbeats.scores(page).catch(() => new Map<string, number>());
    const last = page[page.length - 1];
    return { items: page.map((h) => HostDto.from(h, beats.get(h.id))), nextCursor: rows.length > limit && last ? encodeHostCursor(last) : null };
  }

  @Get(':id')
  @ApiOkResponse({ type: HostDto })
  @ApiNotFoundResponse()
  async get(@Param('id', uuid('host')) id: string): Promise<HostDto> {
    const host = await this.hosts.get(id);
    if (!host) throw problems.notFound('host', id);
    return this.dto(host);
  }

  /** A new name, unique in the fleet (409 naming the host that has it). Admins only. */
  @Patch(':id')
  @Roles('admin')
  @ApiOkResponse({ type: HostDto })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'Another host has the name' })
  async rename(@Param('id', uuid('host')) id: string, @Body() dto: RenameHostDto): Promise<HostDto> {
    return this.dto(await this.service.rename(id, dto.name));
  }

  /**
   * Removes a host; with instances on it only with `force=true` (a lost host: they go to error).
   * Its agent's credential and Redis user are revoked with its last host. Admins only.
   */
  @Delete(':id')
  @Roles('admin')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'Instances are still on the host' })
  async remove(@Param('id', uuid('host')) id: string, @Query() q: RemoveHostQuery): Promise<void> {
    await this.service.remove(id, q.force === 'true');
  }

  private async dto(host: HostEntity): Promise<HostDto> {
    const beats = await this.heartbeats.scores([host]).catch(() => new Map<string, number>());
    return HostDto.from(host, beats.get(host.id));
  }

  /**
   * Moves every instance off the host (it goes `draining` first): one `evacuate` operation whose
   * children (`GET /v1/operations?parent=`) are one `migrate` per instance. Admins only.
   */
  @Post(':id/actions/evacuate')
  @Roles('admin')
  @HttpCode(202)
  @ApiHeader(IDEMPOTENCY_HEADER)
  @ApiAcceptedResponse({ type: OperationDto })
  @ApiNotFoundResponse()
  async evacuate(
    @CurrentPrincipal() principal: Principal,
    @Param('id', uuid('host')) id: string,
    @Idempotency() idem: IdempotencyContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<OperationDto> {
    return accepted(res, await this.service.evacuate(principal, id, idem));
  }

  /**
   * drain or maintenance: the host takes no new instances (what runs there stays); activate: it
   * does again. drain may take a deadline (`deadline` or `deadlineS`): when it passes and
   * instances remain, the controller evacuates them (the host's `drainEvacuationId`).
   * Activate and maintenance clear it. Admins only.
   */
  @Post(':id/actions/:action')
  @Roles('admin')
  @HttpCode(200)
  @ApiParam({ name: 'action', enum: HOST_ACTIONS })
  @ApiOkResponse({ type: HostDto })
  @ApiBadRequestResponse({ description: 'deadline and deadlineS both given, a deadline in the past, or a deadline with another action than drain' })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'The host is down or enrolling (it becomes ready by heartbeating)' })
  async act(@Param('id', uuid('host')) id: string, @Param('action') action: string, @Body() dto: HostActionDto): Promise<HostDto> {
    if (!(HOST_ACTIONS as readonly string[]).includes(action)) throw problems.notFound('action', `${action} (one of ${HOST_ACTIONS.join(', ')})`);
    return this.dto(await this.service.act(id, action as HostAction, dto.reason, drainDeadlineOf(action, dto)));
  }
}
