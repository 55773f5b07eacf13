import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsUUID,
  Matches,
  Max,
  Min,
  ValidateNested,
  IsObject,
  IsString,
} from 'class-validator';
import {
  ARCHES,
  Arch,
  CAPABILITIES,
  Capability,
  ISOLATION_NEEDS,
  IsolationNeed,
  MIN_CONTAINER_VCPUS,
  NAME_PATTERN,
  NAME_RULE,
  REQUESTED_TECHNOLOGIES,
  RESOURCE_LIMITS,
  RequestedTechnology,
  TEMPLATE_NAME_PATTERN,
} from '@hyperplane/domain';
import { IsStringMap } from '../common/validators';

export class ResourcesDto {
  @ApiProperty({
    minimum: MIN_CONTAINER_VCPUS,
    maximum: RESOURCE_LIMITS.vcpus,
    example: 1,
    description: 'vCPUs. A container may ask for a fraction (0.25: a quarter of one CPU, at least 0.01, in steps of 0.001); a VM asks whole vCPUs',
  })
  @IsNumber({ maxDecimalPlaces: 3, allowNaN: false, allowInfinity: false }, { message: 'vcpus must be a number with at most three decimal places' })
  @Min(MIN_CONTAINER_VCPUS)
  @Max(RESOURCE_LIMITS.vcpus)
  vcpus!: number;

  @ApiProperty({ minimum: 16, maximum: RESOURCE_LIMITS.memoryMiB, example: 512 })
  @IsInt()
  @Min(16)
  @Max(RESOURCE_LIMITS.memoryMiB)
  memoryMiB!: number;

  @ApiProperty({ minimum: 1, maximum: RESOURCE_LIMITS.diskGiB, example: 10 })
  @IsInt()
  @Min(1)
  @Max(RESOURCE_LIMITS.diskGiB)
  diskGiB!: number;
}

/** Performance isolation beyond the size: what cgroups (or the hypervisor) enforce. */
export class LimitsDto {
  @ApiPropertyOptional({
    description: 'Relative CPU weight under contention (cgroup v1 shares: 1024 = one normal share; cgroup v2 cpu.weight = 1 + (units − 2) × 9999 / 262142)',
    minimum: 2,
    maximum: 262144,
  })
  @IsOptional()
  @IsInt()
  @Min(2)
  @Max(262144)
  cpuUnits?: number;

  @ApiPropertyOptional({ description: 'Hard CPU cap in percent of one CPU (150 = 1.5 CPUs)', minimum: 1, maximum: 51200 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(51200)
  cpuCapPercent?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: RESOURCE_LIMITS.memoryMiB })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(RESOURCE_LIMITS.memoryMiB)
  swapMiB?: number;

  @ApiPropertyOptional({ description: 'Maximum number of processes', minimum: 1, maximum: 4194304 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4194304)
  pids?: number;

  @ApiPropertyOptional({ description: 'Relative block I/O weight', minimum: 10, maximum: 1000 })
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(1000)
  ioWeight?: number;
}

export class IsolationDto {
  @ApiPropertyOptional({ enum: ['shared', 'dedicated'], description: 'shared: may run on the host kernel (container); dedicated: its own kernel (VM)' })
  @IsOptional()
  @IsIn(['shared', 'dedicated'])
  kernel?: 'shared' | 'dedicated';

  @ApiPropertyOptional({ enum: ['standard', 'strict'], description: 'strict: a hardware boundary between tenants (VM)' })
  @IsOptional()
  @IsIn(['standard', 'strict'])
  security?: 'standard' | 'strict';

  @ApiPropertyOptional({ enum: ISOLATION_NEEDS, isArray: true })
  @IsOptional()
  @ArrayMaxSize(ISOLATION_NEEDS.length)
  @IsIn(ISOLATION_NEEDS, { each: true })
  needs?: IsolationNeed[];
}

export class PlacementDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'Pin the instance to this host' })
  @IsOptional()
  @IsUUID()
  hostId?: string;

  @ApiPropertyOptional({ description: 'Placement group name (affinity / anti-affinity)' })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: `group must be ${NAME_RULE}` })
  group?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @Matches(NAME_PATTERN, { message: `zone must be ${NAME_RULE}` })
  zone?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, description: 'Host labels that must match' })
  @IsOptional()
  @IsStringMap()
  labels?: Record<string, string>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, description: 'Host labels to prefer' })
  @IsOptional()
  @IsStringMap()
  preferredLabels?: Record<string, string>;

  @ApiPropertyOptional({ enum: ['binpack', 'spread'] })
  @IsOptional()
  @IsIn(['binpack', 'spread'])
  strategy?: 'binpack' | 'spread';
}

/** High availability: restart the instance elsewhere when its host is lost (after fencing). */
export class HaDto {
  @ApiProperty({ description: 'Create and start the instance again on another host when its host is lost (after the fence)' })
  @IsBoolean()
  restart!: boolean;

  @ApiPropertyOptional({ minimum: 0, maximum: 1000, default: 0, description: 'Higher is recovered first when capacity is short' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000)
  priority?: number;
}

export class InstanceSpecDto {
  @ApiProperty({ example: 'debian-12' })
  @IsString()
  @Matches(TEMPLATE_NAME_PATTERN, { message: 'template must be a template name such as debian-12' })
  template!: string;

  @ApiProperty({ enum: REQUESTED_TECHNOLOGIES, description: 'container, vm, or auto (decided from isolation needs)' })
  @IsIn(REQUESTED_TECHNOLOGIES)
  technology!: RequestedTechnology;

  @ApiPropertyOptional({ enum: ARCHES, description: 'Guest architecture; any the template offers when absent' })
  @IsOptional()
  @IsIn(ARCHES)
  arch?: Arch;

  @ApiProperty({ type: ResourcesDto })
  @IsObject()
  @ValidateNested()
  @Type(() => ResourcesDto)
  resources!: ResourcesDto;

  @ApiPropertyOptional({ type: LimitsDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => LimitsDto)
  limits?: LimitsDto;

  @ApiPropertyOptional({ type: IsolationDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => IsolationDto)
  isolation?: IsolationDto;

  @ApiPropertyOptional({ enum: CAPABILITIES, isArray: true, description: 'Driver capabilities the instance will need' })
  @IsOptional()
  @ArrayMaxSize(CAPABILITIES.length)
  @IsIn(CAPABILITIES, { each: true })
  capabilities?: Capability[];

  @ApiPropertyOptional({ description: 'Project name; the token\'s project or `default` when absent' })
  @IsOptional()
  @Matches(NAME_PATTERN, { message: `project must be ${NAME_RULE}` })
  project?: string;

  @ApiPropertyOptional({ type: PlacementDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => PlacementDto)
  placement?: PlacementDto;

  @ApiPropertyOptional({ type: HaDto, description: 'High availability; the project\'s default (PUT /v1/projects/{name}/policy, `ha`) when absent' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => HaDto)
  ha?: HaDto;

  @ApiPropertyOptional({ default: true, description: 'Start the instance once created' })
  @IsOptional()
  @IsBoolean()
  start?: boolean;
}

export class CreateInstanceDto extends InstanceSpecDto {
  @ApiProperty({ example: 'web-1', pattern: NAME_PATTERN.source })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name must be ${NAME_RULE}` })
  name!: string;
}
