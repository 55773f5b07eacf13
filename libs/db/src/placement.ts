import { Capability, TemplateSpec } from '@hyperplane/domain';
import type { HostSnapshot, PlacementRequest } from '@hyperplane/scheduler';
import { HostEntity, InstanceEntity, PlacementGroupEntity } from './entities';

/** A host row as the scheduler sees it. */
export function hostSnapshot(h: HostEntity, groups?: Record<string, number>, macosGuests?: number): HostSnapshot {
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
    ...(h.createFailures > 0 ? { createFailures: h.createFailures } : {}),
    ...(groups ? { groups } : {}),
    ...(macosGuests ? { macosGuests } : {}),
  };
}

export type PlacementSubject = Pick<InstanceEntity, 'requestedTechnology' | 'vcpus' | 'memoryMib' | 'diskGib' | 'arch' | 'isolation' | 'placement'>;

/** What to ask the scheduler for an instance (or a create request shaped like one). */
export function placementRequest(instance: PlacementSubject, template: TemplateSpec, group?: PlacementGroupEntity | null): PlacementRequest {
  const p = instance.placement ?? {};
  return {
    template,
    technology: instance.requestedTechnology,
    resources: { vcpus: instance.vcpus, memoryMiB: instance.memoryMib, diskGiB: instance.diskGib },
    ...(instance.arch ? { arch: instance.arch } : {}),
    ...(instance.isolation ? { isolation: instance.isolation } : {}),
    ...(p.capabilities ? { capabilities: p.capabilities as Capability[] } : {}),
    ...(p.hostId ? { hostId: p.hostId } : {}),
    ...(p.labels ? { requiredLabels: p.labels } : {}),
    ...(p.preferredLabels ? { preferredLabels: p.preferredLabels } : {}),
    ...(p.zone ? { zone: p.zone } : {}),
    ...(p.strategy ? { strategy: p.strategy } : {}),
    ...(group
      ? { group: { id: group.id, name: group.name, policy: group.policy, strict: group.strict, ...(group.maxPerHost ? { maxPerHost: group.maxPerHost } : {}) } }
      : {}),
  };
}
