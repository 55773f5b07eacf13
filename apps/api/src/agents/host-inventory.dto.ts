import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { ARCHES, Arch, CAPABILITIES, Capability, DRIVER_NAMES, DriverName, MAX_HOSTS_PER_AGENT_REQUEST, OS_FAMILIES, OsFamily, TECHNOLOGIES, Technology, WINDOWS_ISOLATIONS, WindowsIsolation } from '@hyperplane/domain';
import { IsSmallObject, IsStringMap, IsVersionMap } from '../common/validators';

export class OverheadDto {
  @ApiProperty() @IsInt() @Min(0) @Max(1024) vcpus!: number;
  @ApiProperty() @IsInt() @Min(0) @Max(1024 * 1024) memoryMiB!: number;
  @ApiProperty() @IsInt() @Min(0) @Max(1024 * 1024) diskGiB!: number;
}

export class GuestSupportDto {
  @ApiProperty({ enum: OS_FAMILIES }) @IsIn(OS_FAMILIES) os!: OsFamily;
  @ApiProperty({ enum: ARCHES, isArray: true }) @IsArray() @ArrayMaxSize(4) @IsIn(ARCHES, { each: true }) archs!: Arch[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } })
  @IsOptional()
  @IsVersionMap()
  distributions?: Record<string, string[]>;
}

export class DriverOfferDto {
  @ApiProperty({ enum: TECHNOLOGIES }) @IsIn(TECHNOLOGIES) technology!: Technology;
  @ApiProperty({ type: [GuestSupportDto] })
  @IsArray()
  @ArrayMaxSize(16)
  @ValidateNested({ each: true })
  @Type(() => GuestSupportDto)
  guests!: GuestSupportDto[];
  @ApiProperty({ enum: CAPABILITIES, isArray: true }) @IsArray() @ArrayMaxSize(32) @IsIn(CAPABILITIES, { each: true }) capabilities!: Capability[];
  @ApiProperty({ type: OverheadDto }) @ValidateNested() @Type(() => OverheadDto) overhead!: OverheadDto;
  @ApiPropertyOptional({ enum: ARCHES, isArray: true }) @IsOptional() @IsArray() @IsIn(ARCHES, { each: true }) emulates?: Arch[];
  @ApiPropertyOptional({ enum: WINDOWS_ISOLATIONS, isArray: true, description: 'Windows containers: the isolation modes the host runs (absent: process only)' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(2)
  @IsIn(WINDOWS_ISOLATIONS, { each: true })
  windowsIsolation?: WindowsIsolation[];
  @ApiPropertyOptional({ type: OverheadDto, description: 'Windows containers: what a Hyper-V isolated one costs beyond its request, in place of overhead' })
  @IsOptional()
  @ValidateNested()
  @Type(() => OverheadDto)
  hypervOverhead?: OverheadDto;
}

export class DriverProbeDto {
  @ApiProperty({ enum: DRIVER_NAMES }) @IsIn(DRIVER_NAMES) name!: DriverName;
  @ApiProperty() @IsBoolean() installed!: boolean;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(200) version?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(2000) error?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(32) accelerator?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Driver-specific facts' })
  @IsOptional()
  @IsObject()
  @IsSmallObject()
  details?: Record<string, unknown>;
  @ApiProperty({ type: [DriverOfferDto] })
  @IsArray()
  @ArrayMaxSize(4)
  @ValidateNested({ each: true })
  @Type(() => DriverOfferDto)
  offers!: DriverOfferDto[];
}

/** What an agent reads from its OS and its drivers. */
export class HostInventoryDto {
  @ApiProperty({ example: 'node-17' }) @IsString() @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, { message: 'hostname must be a host name' }) hostname!: string;
  @ApiProperty({ enum: OS_FAMILIES }) @IsIn(OS_FAMILIES) os!: OsFamily;
  @ApiProperty() @IsString() @MaxLength(100) osVersion!: string;
  @ApiProperty() @IsString() @MaxLength(100) kernel!: string;
  @ApiProperty({ enum: ARCHES }) @IsIn(ARCHES) arch!: Arch;
  @ApiProperty() @IsInt() @Min(1) @Max(65536) cpus!: number;
  @ApiProperty() @IsInt() @Min(1) @Max(1024 * 1024 * 1024) memoryMiB!: number;
  @ApiProperty() @IsInt() @Min(0) @Max(1024 * 1024 * 1024) diskGiB!: number;
  @ApiProperty({ type: [DriverProbeDto] })
  @IsArray()
  @ArrayMaxSize(16)
  @ValidateNested({ each: true })
  @Type(() => DriverProbeDto)
  drivers!: DriverProbeDto[];
  @ApiPropertyOptional() @IsOptional() @IsStringMap() labels?: Record<string, string>;
  @ApiPropertyOptional() @IsOptional() @Matches(/^[a-z0-9][a-z0-9-]{0,62}$/) zone?: string;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() simulated?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) agentVersion?: string;
}

/** A page of 1,000 simulated hosts is about 1 MB; a real host's inventory a few KB. */
export const AGENT_BODY_LIMIT = '4mb';

export class EnrollRequestDto {
  @ApiProperty({ type: [HostInventoryDto], description: `One host, or up to ${MAX_HOSTS_PER_AGENT_REQUEST} for a simulating agent (more with POST /v1/agents/hosts)` })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_HOSTS_PER_AGENT_REQUEST)
  @ValidateNested({ each: true })
  @Type(() => HostInventoryDto)
  hosts!: HostInventoryDto[];
}

export class InventoryReportDto {
  @ApiProperty({ format: 'uuid' }) @IsUUID() hostId!: string;
  @ApiProperty({ type: HostInventoryDto }) @ValidateNested() @Type(() => HostInventoryDto) inventory!: HostInventoryDto;
}

export class InventoryRequestDto {
  @ApiProperty({ type: [InventoryReportDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_HOSTS_PER_AGENT_REQUEST)
  @ValidateNested({ each: true })
  @Type(() => InventoryReportDto)
  hosts!: InventoryReportDto[];
}

/** What one host has (instance ids), asking which of them now live elsewhere. */
export class HostHoldingsDto {
  @ApiProperty({ format: 'uuid' }) @IsUUID() hostId!: string;
  @ApiProperty({ type: [String], description: 'Instance ids found on the host' })
  @IsArray()
  @ArrayMaxSize(100_000)
  @IsUUID('all', { each: true })
  instanceIds!: string[];
}

export class AssignmentsRequestDto {
  @ApiProperty({ type: [HostHoldingsDto] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_HOSTS_PER_AGENT_REQUEST)
  @ValidateNested({ each: true })
  @Type(() => HostHoldingsDto)
  hosts!: HostHoldingsDto[];
}
