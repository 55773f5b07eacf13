import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { NAME_PATTERN, NAME_RULE } from '@hyperplane/domain';
import { PLACEMENT_GROUP_POLICIES, PlacementGroupEntity, PlacementGroupPolicy } from '@hyperplane/db';

export class CreatePlacementGroupDto {
  @ApiProperty({ example: 'web-tier' }) @IsString() @Matches(NAME_PATTERN, { message: `name must be ${NAME_RULE}` }) name!: string;
  @ApiProperty({ enum: PLACEMENT_GROUP_POLICIES }) @IsIn(PLACEMENT_GROUP_POLICIES) policy!: PlacementGroupPolicy;
  @ApiPropertyOptional({ default: true, description: 'Hard (refuse rather than break it) or soft (a preference)' })
  @IsOptional()
  @IsBoolean()
  strict?: boolean;
  @ApiPropertyOptional({ minimum: 1, maximum: 10000, description: 'Members per host at most' }) @IsOptional() @IsInt() @Min(1) @Max(10000) maxPerHost?: number;
  @ApiPropertyOptional({ description: 'Project name; the token\'s project or default when absent' })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: `project must be ${NAME_RULE}` })
  project?: string;
}

export class PlacementGroupDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ format: 'uuid' }) projectId!: string;
  @ApiProperty({ enum: PLACEMENT_GROUP_POLICIES }) policy!: string;
  @ApiProperty() strict!: boolean;
  @ApiPropertyOptional({ nullable: true }) maxPerHost!: number | null;
  @ApiProperty() createdAt!: string;

  static from(g: PlacementGroupEntity): PlacementGroupDto {
    return { id: g.id, name: g.name, projectId: g.projectId, policy: g.policy, strict: g.strict, maxPerHost: g.maxPerHost, createdAt: new Date(g.createdAt).toISOString() };
  }
}
