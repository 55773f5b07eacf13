import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { HaDto } from '../instances/create-instance.dto';
import { IsIn, IsInt, IsNumber, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { NAME_PATTERN, NAME_RULE, ROLES, Role } from '@hyperplane/domain';

export class CreateTokenDto {
  @ApiProperty({ example: 'ci-pipeline' }) @IsString() @Matches(/^[\w .@-]{1,100}$/, { message: 'name must be 1 to 100 letters, digits, spaces or ._@-' }) name!: string;
  @ApiProperty({ enum: ROLES }) @IsIn(ROLES) role!: Role;
  @ApiPropertyOptional({ description: 'Limit the token to one project (by name); fleet-wide when absent' })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: `project must be ${NAME_RULE}` })
  project?: string;
  @ApiPropertyOptional({ minimum: 60, maximum: 31536000 * 5 }) @IsOptional() @IsInt() @Min(60) @Max(31536000 * 5) expiresInS?: number;
  @ApiPropertyOptional({ minimum: 0, description: 'Requests per minute (0: unlimited); the project\'s, else HYPERPLANE_RATE_LIMIT_PER_MINUTE, when absent' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  requestsPerMinute?: number;
}

export class CreateEnrollmentTokenDto {
  @ApiProperty({ example: 'rack-7' }) @IsString() @Matches(/^[\w .@-]{1,100}$/, { message: 'name must be 1 to 100 letters, digits, spaces or ._@-' }) name!: string;
  @ApiPropertyOptional({ description: 'Hosts that may enroll with it; HYPERPLANE_ENROLLMENT_TOKEN_MAX_HOSTS (100) when absent', minimum: 1, maximum: 1_000_000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  maxHosts?: number;
  @ApiPropertyOptional({ description: 'Seconds it stays valid; HYPERPLANE_ENROLLMENT_TOKEN_TTL_S (one day) when absent', minimum: 60, maximum: 31536000 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(31536000)
  expiresInS?: number;
}

export class ListTokensQuery {
  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'true: only live tokens whose maker is revoked (to revoke them too)' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'createdByRevoked must be true or false' })
  createdByRevoked?: 'true' | 'false';
}

export class RevokeTokenQuery {
  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'true: also revoke every API token minted from it (transitively) and every enrollment token they made' })
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'cascade must be true or false' })
  cascade?: 'true' | 'false';
}

export class CreateProjectDto {
  @ApiProperty({ example: 'team-a' }) @IsString() @Matches(NAME_PATTERN, { message: `name must be ${NAME_RULE}` }) name!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(500) description?: string;
}

export class IssuedSecretDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'The secret; shown once, only its hash is kept' }) token!: string;
  @ApiPropertyOptional({ nullable: true }) expiresAt!: string | null;
}

export class RatiosDto {
  @ApiPropertyOptional({ minimum: 0.1, maximum: 64 }) @IsOptional() @IsNumber() @Min(0.1) @Max(64) vcpus?: number;
  @ApiPropertyOptional({ minimum: 0.1, maximum: 16 }) @IsOptional() @IsNumber() @Min(0.1) @Max(16) memoryMiB?: number;
  @ApiPropertyOptional({ minimum: 0.1, maximum: 16 }) @IsOptional() @IsNumber() @Min(0.1) @Max(16) diskGiB?: number;
}

export class TechnologyRatiosDto {
  @ApiPropertyOptional({ type: RatiosDto }) @IsOptional() @IsObject() @ValidateNested() @Type(() => RatiosDto) vm?: RatiosDto;
  @ApiPropertyOptional({ type: RatiosDto }) @IsOptional() @IsObject() @ValidateNested() @Type(() => RatiosDto) container?: RatiosDto;
}

/** What a project changes of the global placement policy; absent fields keep the global value. */
export class PolicyOverrideDto {
  @ApiPropertyOptional({ enum: ['binpack', 'spread'] }) @IsOptional() @IsIn(['binpack', 'spread']) strategy?: 'binpack' | 'spread';
  @ApiPropertyOptional({ type: TechnologyRatiosDto, description: 'Allocation ratios: usable = capacity × ratio' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => TechnologyRatiosDto)
  ratios?: TechnologyRatiosDto;
  @ApiPropertyOptional({ minimum: 1, maximum: 100000 }) @IsOptional() @IsInt() @Min(1) @Max(100000) maxInstancesPerHost?: number;
  @ApiPropertyOptional({ type: HaDto, description: 'The HA of instances created in the project without their own `ha`' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => HaDto)
  ha?: HaDto;
}
