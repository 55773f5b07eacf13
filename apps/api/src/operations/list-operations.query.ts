import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';
import { BATCH_KINDS, BatchKind, OPERATION_KINDS, OPERATION_STATUSES, OperationKind, OperationStatus } from '@hyperplane/domain';
import { PageQuery } from '../common/pagination';

export class ListOperationsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: OPERATION_STATUSES })
  @IsOptional()
  @IsIn(OPERATION_STATUSES)
  status?: OperationStatus;

  @ApiPropertyOptional({ enum: [...OPERATION_KINDS, ...BATCH_KINDS] })
  @IsOptional()
  @IsIn([...OPERATION_KINDS, ...BATCH_KINDS])
  kind?: OperationKind | BatchKind;

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  instance?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Children of a batch operation' })
  @IsOptional()
  @IsUUID()
  parent?: string;
}

export class WaitQuery {
  @ApiPropertyOptional({ minimum: 0, maximum: 300, default: 30, description: 'Seconds to wait at most' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(300)
  timeoutS?: number;
}
