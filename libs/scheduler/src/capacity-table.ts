import { Capacity, fromMilliVcpus, Technology, toMilliVcpus } from '@hyperplane/domain';
import { usableCapacity } from './placement-policy';
import { HostSnapshot, PlacementPolicy } from './placement.types';

/** Numbers per host slot in `CapacityTable.data`. */
export const STRIDE = 12;
/** Offsets within a slot's numbers: allocated (4), usable for containers (4), usable for VMs (4). */
export const ALLOC = 0;
export const USABLE: Readonly<Record<Technology, number>> = { container: 4, vm: 8 };
// Within each group of four: milli-vCPUs (whole numbers: sums are exact), memoryMiB, diskGiB, instances.

/**
 * Allocations and usable capacity of every host, by slot, interleaved in one typed array: the
 * dynamic filters and weighers read nothing else for most hosts, and one host's twelve numbers
 * sit in two cache lines instead of behind a dozen pointers.
 */
export class CapacityTable {
  data: Float64Array = new Float64Array(0);

  /** Writes a host's allocations and usable capacity from its snapshot. */
  load(slot: number, snapshot: HostSnapshot, policy: PlacementPolicy): void {
    this.ensure(slot);
    const at = slot * STRIDE;
    write(this.data, at + ALLOC, snapshot.allocated);
    write(this.data, at + USABLE.container, usableCapacity(snapshot, 'container', policy));
    write(this.data, at + USABLE.vm, usableCapacity(snapshot, 'vm', policy));
  }

  /** Adds a committed claim. */
  claim(slot: number, vcpus: number, memoryMiB: number, diskGiB: number): void {
    const at = slot * STRIDE + ALLOC;
    this.data[at]! += toMilliVcpus(vcpus);
    this.data[at + 1]! += memoryMiB;
    this.data[at + 2]! += diskGiB;
    this.data[at + 3]! += 1;
  }

  allocated(slot: number): Capacity {
    const at = slot * STRIDE + ALLOC;
    return read(this.data, at);
  }

  instances(slot: number): number {
    return this.data[slot * STRIDE + ALLOC + 3] ?? 0;
  }

  private ensure(slot: number): void {
    if ((slot + 1) * STRIDE <= this.data.length) return;
    const grown = new Float64Array(Math.max(slot + 1, (this.data.length / STRIDE) * 2, 64) * STRIDE);
    grown.set(this.data);
    this.data = grown;
  }
}

function write(data: Float64Array, at: number, c: Capacity): void {
  data[at] = toMilliVcpus(c.vcpus);
  data[at + 1] = c.memoryMiB;
  data[at + 2] = c.diskGiB;
  data[at + 3] = c.instances;
}

function read(data: Float64Array, at: number): Capacity {
  return { vcpus: fromMilliVcpus(data[at] ?? 0), memoryMiB: data[at + 1] ?? 0, diskGiB: data[at + 2] ?? 0, instances: data[at + 3] ?? 0 };
}
