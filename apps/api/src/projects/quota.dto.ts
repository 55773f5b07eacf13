import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNumber, IsObject, IsOptional, Max, Min, ValidateNested } from 'class-validator';

const MAX = 2_000_000_000;

/** Limits for one scope; a missing one is unlimited. */
export class QuotaLimitsDto {
  @ApiPropertyOptional({ minimum: 0 }) @IsOptional() @IsInt() @Min(0) @Max(MAX) instances?: number;
  @ApiPropertyOptional({ minimum: 0, description: 'vCPUs, fractions of containers included (at most three decimal places)' })
  @IsOptional()
  @IsNumber({ maxDecimalPlaces: 3, allowNaN: false, allowInfinity: false }, { message: 'vcpus must be a number with at most three decimal places' })
  @Min(0)
  @Max(MAX / 1000)
  vcpus?: number;
  @ApiPropertyOptional({ minimum: 0 }) @IsOptional() @IsInt() @Min(0) @Max(MAX) memoryMiB?: number;
  @ApiPropertyOptional({ minimum: 0 }) @IsOptional() @IsInt() @Min(0) @Max(MAX) diskGiB?: number;
}

export class PerTechnologyQuotaDto {
  @ApiPropertyOptional({ type: QuotaLimitsDto }) @IsOptional() @IsObject() @ValidateNested() @Type(() => QuotaLimitsDto) container?: QuotaLimitsDto;
  @ApiPropertyOptional({ type: QuotaLimitsDto }) @IsOptional() @IsObject() @ValidateNested() @Type(() => QuotaLimitsDto) vm?: QuotaLimitsDto;
}

/** A project's quota: overall limits, and optionally per technology. Replaces the previous one. */
export class QuotaDto extends QuotaLimitsDto {
  @ApiPropertyOptional({ type: PerTechnologyQuotaDto, description: 'An `auto` instance not yet placed counts against each technology\'s limits' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => PerTechnologyQuotaDto)
  perTechnology?: PerTechnologyQuotaDto;
  @ApiPropertyOptional({ description: 'API requests per minute for each of the project\'s tokens (rate limit); the default when absent', minimum: 1 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX)
  requestsPerMinute?: number;
}
