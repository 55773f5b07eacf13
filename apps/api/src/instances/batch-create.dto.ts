import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsObject, IsString, Matches, Max, Min, ValidateNested } from 'class-validator';
import { InstanceSpecDto } from './create-instance.dto';

export const MAX_BATCH = 10_000;

/** N alike instances in one request: one parent operation with N children, placed in bulk. */
export class BatchCreateDto {
  @ApiProperty({ minimum: 1, maximum: MAX_BATCH, example: 100 })
  @IsInt()
  @Min(1)
  @Max(MAX_BATCH)
  count!: number;

  @ApiProperty({ example: 'web', description: 'Instances are named <namePrefix>-<n>, n from 1, zero-padded to the width of count' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{0,56}$/, { message: 'namePrefix must be lowercase letters, digits and hyphens, starting with a letter or digit, at most 57 characters' })
  namePrefix!: string;

  @ApiProperty({ type: InstanceSpecDto })
  @IsObject()
  @ValidateNested()
  @Type(() => InstanceSpecDto)
  spec!: InstanceSpecDto;
}
