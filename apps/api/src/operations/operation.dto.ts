import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { OPERATION_KINDS, OPERATION_STATUSES, OperationStatus } from '@hyperplane/domain';
import { OperationEntity } from '@hyperplane/db';
import { operationForProject, stepForProject } from '../common/fleet-view';

export class OperationErrorDto {
  @ApiProperty({ example: 'unschedulable' }) code!: string;
  @ApiProperty() message!: string;
}

/** An asynchronous change: poll it, wait on it, or follow it on /v1/events. */
export class OperationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: [...OPERATION_KINDS, 'batch'] }) kind!: string;
  @ApiProperty({ enum: OPERATION_STATUSES }) status!: OperationStatus;
  @ApiProperty({ minimum: 0, maximum: 100 }) progress!: number;
  @ApiProperty({ description: 'What it is doing now' }) step!: string;
  @ApiPropertyOptional({ type: OperationErrorDto, nullable: true }) error!: OperationErrorDto | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) instanceId!: string | null;
  @ApiProperty({ format: 'uuid' }) projectId!: string;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) parentId!: string | null;
  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'The token that asked' }) requestedBy!: string | null;
  @ApiPropertyOptional({ nullable: true, description: 'The X-Request-Id of the request that made it (logs of the api, controller and agent carry it)' }) requestId!: string | null;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true }) result!: Record<string, unknown> | null;
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
      createdAt: iso(o.createdAt)!,
      startedAt: iso(o.startedAt),
      finishedAt: iso(o.finishedAt),
      updatedAt: iso(o.updatedAt)!,
    };
  }
}
