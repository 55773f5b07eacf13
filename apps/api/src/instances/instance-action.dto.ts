import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';

// The lxc driver waits at most 600 s; a larger value would be cut short without saying so.
export const STOP_TIMEOUT_MAX_S = 600;

/** The body of an action; only `stop` takes options (an empty body or none at all for the rest). */
export class InstanceActionDto {
  @ApiPropertyOptional({ description: 'stop only: skip the graceful shutdown (lxc-stop -k, QEMU quit)' })
  @IsOptional()
  @IsBoolean()
  force?: boolean;

  @ApiPropertyOptional({ minimum: 1, maximum: STOP_TIMEOUT_MAX_S, default: 30, description: 'stop only: seconds of graceful shutdown before the instance is forced off' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(STOP_TIMEOUT_MAX_S)
  timeoutS?: number;
}

/** `DELETE /v1/instances/{id}?force=true`: stop forcibly first. */
export class DeleteInstanceQuery {
  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'Stop the instance forcibly before deleting it' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'force must be true or false' })
  force?: 'true' | 'false';
}
