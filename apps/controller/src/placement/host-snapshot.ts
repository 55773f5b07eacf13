import { HostEntity } from '@hyperplane/db';
import { HostSnapshot } from '@hyperplane/scheduler';

export function toHostSnapshot(h: HostEntity): HostSnapshot {
  return {
    id: h.id,
    name: h.name,
    status: h.status,
    os: h.os,
    osVersion: h.osVersion,
    kernel: h.kernel,
    arch: h.arch,
    labels: h.labels ?? {},
    zone: h.zone,
    capacity: { vcpus: h.capVcpus, memoryMiB: h.capMemoryMib, diskGiB: h.capDiskGib, instances: h.capInstances },
    allocated: { vcpus: h.allocVcpus, memoryMiB: h.allocMemoryMib, diskGiB: h.allocDiskGib, instances: h.allocInstances },
    drivers: h.drivers,
    templates: h.templates,
  };
}
