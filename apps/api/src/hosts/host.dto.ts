import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ARCHES, DriverProbe, HOST_STATUSES, HostStatus, OS_FAMILIES } from '@hyperplane/domain';
import { HostEntity } from '@hyperplane/db';

export class CapacityDto {
  @ApiProperty() vcpus!: number;
  @ApiProperty() memoryMiB!: number;
  @ApiProperty() diskGiB!: number;
  @ApiProperty({ description: 'Instances (density cap for capacity; count for allocated)' }) instances!: number;
}

export class HostDriverDto {
  @ApiProperty({ example: 'qemu' }) name!: string;
  @ApiProperty() installed!: boolean;
  @ApiPropertyOptional() version?: string;
  @ApiPropertyOptional({ description: 'Why the driver cannot be used here' }) error?: string;
  @ApiPropertyOptional({ example: 'kvm' }) accelerator?: string;
  @ApiProperty({ description: 'Technologies offered, each with capabilities, guests and per-instance overhead', type: 'array', items: { type: 'object' } })
  offers!: DriverProbe['offers'];
}

export class HostDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: HOST_STATUSES }) status!: HostStatus;
  @ApiPropertyOptional({ nullable: true }) statusReason!: string | null;
  @ApiProperty({ enum: OS_FAMILIES }) os!: string;
  @ApiProperty({ example: 'Debian GNU/Linux 12' }) osVersion!: string;
  @ApiProperty({ example: '6.1.0-25-amd64' }) kernel!: string;
  @ApiProperty({ enum: ARCHES }) arch!: string;
  @ApiProperty() simulated!: boolean;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels!: Record<string, string>;
  @ApiPropertyOptional({ nullable: true }) zone!: string | null;
  @ApiProperty({ type: CapacityDto }) capacity!: CapacityDto;
  @ApiProperty({ type: CapacityDto, description: 'Claimed by instances, including driver overheads' }) allocated!: CapacityDto;
  @ApiProperty({ type: [HostDriverDto] }) drivers!: HostDriverDto[];
  @ApiProperty({ description: 'Creates that failed here since the last that succeeded; above 0 the scheduler ranks the host last. Activate resets it.' })
  createFailures!: number;
  @ApiPropertyOptional({ nullable: true, format: 'date-time', description: "A draining host's deadline: when it passes and instances remain, the controller evacuates them. Null when none; activate and maintenance clear it." })
  drainDeadline!: string | null;
  @ApiPropertyOptional({ nullable: true, format: 'date-time', description: 'When the controller acted on the drain deadline (null until then)' })
  drainDeadlineReachedAt!: string | null;
  @ApiPropertyOptional({ nullable: true, format: 'uuid', description: "The evacuate operation the drain deadline started (or found under way); null before the deadline or when nothing was left to move. Its children: GET /v1/operations?parent=<id>" })
  drainEvacuationId!: string | null;
  @ApiPropertyOptional({ nullable: true }) lastHeartbeatAt!: string | null;
  @ApiPropertyOptional({ nullable: true }) agentVersion!: string | null;
  @ApiProperty() createdAt!: string;

  static from(h: HostEntity, lastBeatMs?: number): HostDto {
    const stored = h.lastHeartbeatAt ? new Date(h.lastHeartbeatAt).getTime() : 0;
    const beat = Math.max(stored, lastBeatMs ?? 0);
    return {
      id: h.id,
      name: h.name,
      status: h.status,
      statusReason: h.statusReason,
      os: h.os,
      osVersion: h.osVersion,
      kernel: h.kernel,
      arch: h.arch,
      simulated: h.simulated,
      labels: h.labels,
      zone: h.zone,
      capacity: { vcpus: h.capVcpus, memoryMiB: h.capMemoryMib, diskGiB: h.capDiskGib, instances: h.capInstances },
      allocated: { vcpus: h.allocVcpus, memoryMiB: h.allocMemoryMib, diskGiB: h.allocDiskGib, instances: h.allocInstances },
      drivers: h.drivers,
      createFailures: h.createFailures,
      drainDeadline: iso(h.drainDeadline),
      drainDeadlineReachedAt: iso(h.drainDeadlineReachedAt),
      drainEvacuationId: h.drainEvacuationId ?? null,
      lastHeartbeatAt: beat ? new Date(beat).toISOString() : null,
      agentVersion: h.agentVersion,
      createdAt: new Date(h.createdAt).toISOString(),
    };
  }
}

function iso(d: Date | string | null | undefined): string | null {
  return d ? new Date(d).toISOString() : null;
}
