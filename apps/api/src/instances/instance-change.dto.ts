import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsObject, IsOptional, IsString, IsUUID, Matches, ValidateNested } from 'class-validator';
import { NAME_PATTERN, NAME_RULE } from '@hyperplane/domain';
import { InstanceSnapshotEntity } from '@hyperplane/db';
import { LimitsDto, ResourcesDto } from './create-instance.dto';

export class CreateSnapshotDto {
  @ApiProperty({ example: 'before-upgrade' }) @IsString() @Matches(NAME_PATTERN, { message: `name must be ${NAME_RULE}` }) name!: string;
}

export class CloneInstanceDto {
  @ApiProperty({ example: 'web-2', description: 'The new instance\'s name; it is made on the same host, stopped' })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name must be ${NAME_RULE}` })
  name!: string;
}

export class ResizeInstanceDto {
  @ApiProperty({ type: ResourcesDto }) @IsObject() @ValidateNested() @Type(() => ResourcesDto) resources!: ResourcesDto;
  @ApiPropertyOptional({ type: LimitsDto }) @IsOptional() @IsObject() @ValidateNested() @Type(() => LimitsDto) limits?: LimitsDto;
}

export class MigrateInstanceDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'The destination host; absent: the scheduler chooses one (same technology and driver, another host)' })
  @IsOptional()
  @IsUUID()
  hostId?: string;

  @ApiPropertyOptional({ description: 'true: live only (409 if a host cannot); false: offline; absent: live where both hosts can, else offline' })
  @IsOptional()
  @IsBoolean()
  live?: boolean;
}

export class SnapshotDto {
  @ApiProperty() name!: string;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({ format: 'uuid', nullable: true }) operationId!: string | null;

  static from(s: InstanceSnapshotEntity): SnapshotDto {
    return { name: s.name, createdAt: new Date(s.createdAt).toISOString(), operationId: s.operationId };
  }
}
