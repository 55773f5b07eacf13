import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { NAME_PATTERN, NAME_RULE, ROLES, Role } from '@hyperplane/domain';

export class CreateTokenDto {
  @ApiProperty({ example: 'ci-pipeline' }) @IsString() @Matches(/^[\w .@-]{1,100}$/, { message: 'name must be 1 to 100 letters, digits, spaces or ._@-' }) name!: string;
  @ApiProperty({ enum: ROLES }) @IsIn(ROLES) role!: Role;
  @ApiPropertyOptional({ description: 'Limit the token to one project (by name); fleet-wide when absent' })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: `project must be ${NAME_RULE}` })
  project?: string;
  @ApiPropertyOptional({ minimum: 60, maximum: 31536000 * 5 }) @IsOptional() @IsInt() @Min(60) @Max(31536000 * 5) expiresInS?: number;
}

export class CreateEnrollmentTokenDto {
  @ApiProperty({ example: 'rack-7' }) @IsString() @Matches(/^[\w .@-]{1,100}$/, { message: 'name must be 1 to 100 letters, digits, spaces or ._@-' }) name!: string;
  @ApiPropertyOptional({ description: 'Hosts that may enroll with it; no limit when absent', minimum: 1, maximum: 1_000_000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  maxHosts?: number;
  @ApiPropertyOptional({ minimum: 60, maximum: 31536000 }) @IsOptional() @IsInt() @Min(60) @Max(31536000) expiresInS?: number;
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
