import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsBoolean, IsOptional, IsUUID } from 'class-validator';
import { MAX_BATCH } from './batch-create.dto';

/** Room for MAX_BATCH ids (36 characters and 3 of JSON each) and the rest of the body. */
export const BATCH_DELETE_BODY_LIMIT = '512kb';

/** Many instances of one project deleted in one request: one parent operation with a `delete` child per instance. */
export class BatchDeleteDto {
  @ApiProperty({ type: [String], minItems: 1, maxItems: MAX_BATCH, description: 'Instance ids, all of one project; all or none are deleted' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH)
  @ArrayUnique({ message: 'ids must not repeat an id' })
  @IsUUID('all', { each: true, message: 'each of ids must be an instance id (a UUID)' })
  ids!: string[];

  @ApiPropertyOptional({ description: 'Stop each instance forcibly before removing it (as DELETE ?force=true)' })
  @IsOptional()
  @IsBoolean()
  force?: boolean;
}
