import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BATCH_KINDS, OPERATION_KINDS, OPERATION_STATUSES, OperationStatus } from '@hyperplane/domain';
import { OperationEntity } from '@hyperplane/db';
import { operationForProject, stepForProject } from '../common/fleet-view';

export class OperationErrorDto {
  @ApiProperty({ example: 'unschedulable' }) code!: string;
  @ApiProperty() message!: string;
}

/** An asynchronous change: poll it, wait on it, or follow it on /v1/events. */
export class OperationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: [...OPERATION_KINDS, ...BATCH_KINDS] }) kind!: string;
  @ApiProperty({ enum: OPERATION_STATUSES }) status!: OperationStatus;
  @ApiProperty({ minimum: 0, maximum: 100 }) progress!: number;
  @ApiProperty({ description: 'What it is doing now' }) step!: string;
  @ApiPropertyOptional({ type: OperationErrorDto, nullable: true }) error!: OperationErrorDto | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) instanceId!: string | null;
  @ApiProperty({ format: 'uuid' }) projectId!: string;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) parentId!: string | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'The token that asked' }) requestedBy!: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The X-Request-Id of the request that made it (logs of the api, controller and agent carry it)' }) requestId!: string | null;
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'What it produced. An evacuate: the counts of its children (total, moved, failed, cancelled, remaining, succeeded, running, queued), kept up to date while it runs',
  })
  result!: Record<string, unknown> | null;
  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    description: 'The host it moves off: a migrate\'s source, the host an evacuate empties, the lost host a recover replaces. Null for other kinds and for project tokens',
  })
  fromHostId!: string | null;
  @ApiPropertyOptional({ nullable: true, description: "fromHostId's name when the operation was made or placed" }) fromHostName!: string | null;
  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    description: "A migrate's destination, once placed: where the instance is once it succeeded (one that failed after placement names the host it was going to). Null before placement, for other kinds and for project tokens",
  })
  toHostId!: string | null;
  @ApiPropertyOptional({ nullable: true, description: "toHostId's name when the migrate was placed" }) toHostName!: string | null;
  @ApiPropertyOptional({ nullable: true, example: 'system:drain-deadline', description: 'Who started it when no token did (requestedBy is then null), e.g. system:drain-deadline for an evacuation at a drain deadline' })
  initiator!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({ nullable: true }) startedAt!: string | null;
  @ApiPropertyOptional({ nullable: true }) finishedAt!: string | null;
  @ApiProperty() updatedAt!: string;

  /** `fleetWide`: the caller's token sees hosts; a project's token gets the scheduler's reasons without the fleet (fleet-view.ts). */
  static from(o: OperationEntity, fleetWide: boolean): OperationDto {
    const iso = (d: Date | string | null): string | null => (d ? new Date(d).toISOString() : null);
    const error = o.error ? { code: o.error.code, message: o.error.message } : null;
    const shown = fleetWide ? { error, result: o.result } : operationForProject(error, o.result);
    return {
      id: o.id,
      kind: o.kind,
      status: o.status,
      progress: o.progress,
      step: fleetWide ? o.step : stepForProject(o.step),
      error: shown.error,
      instanceId: o.instanceId,
      projectId: o.projectId,
      parentId: o.parentId,
      requestedBy: o.requestedBy,
      requestId: o.requestId ?? null,
      result: shown.result,
      ...(fleetWide ? hostsOf(o) : NO_HOSTS),
      initiator: typeof o.request?.initiator === 'string' ? o.request.initiator : null,
      createdAt: iso(o.createdAt)!,
      startedAt: iso(o.startedAt),
      finishedAt: iso(o.finishedAt),
      updatedAt: iso(o.updatedAt)!,
    };
  }
}

type Hosts = Pick<OperationDto, 'fromHostId' | 'fromHostName' | 'toHostId' | 'toHostName'>;

const NO_HOSTS: Hosts = { fromHostId: null, fromHostName: null, toHostId: null, toHostName: null };

/**
 * The hosts an operation moves between, from what it stores: a migrate's plan (request.migration,
 * kept after it ends) and result, an evacuation child's request, an evacuate's or a recover's request.
 */
function hostsOf(o: OperationEntity): Hosts {
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const request = o.request ?? {};
  if (o.kind === 'evacuate') return { ...NO_HOSTS, fromHostId: text(request.hostId), fromHostName: text(request.hostName) };
  if (o.kind === 'recover') return { ...NO_HOSTS, fromHostId: text(request.fromHostId), fromHostName: text(request.fromHost) };
  if (o.kind !== 'migrate') return NO_HOSTS;
  const plan = (request.migration ?? {}) as Record<string, unknown>;
  const result = o.result ?? {};
  const fromHostId = text(result.from) ?? text(plan.sourceHostId) ?? text(request.fromHostId);
  const fromHostName = fromHostId === text(plan.sourceHostId) ? text(plan.sourceName) : null;
  return {
    fromHostId,
    fromHostName: fromHostName ?? (fromHostId === text(request.fromHostId) ? text(request.fromHost) : null),
    toHostId: text(result.to) ?? text(plan.destinationHostId),
    toHostName: text(plan.destinationName),
  };
}
