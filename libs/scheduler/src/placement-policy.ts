import { Capacity, fromMilliVcpus, Technology, toMilliVcpus } from '@hyperplane/domain';
import { HostSnapshot, PlacementPolicy } from './placement.types';

/**
 * Binpack; VMs overcommit CPU 4:1, containers CPU 16:1 and memory 1.5:1; nothing reserved.
 *
 * Why these ratios: the seed's density is about 100 containers a host. A container's vCPUs
 * are a cgroup cap (`cpu.max`) on processes that mostly idle, with CPU units (`cpu.weight`)
 * sharing the host fairly under contention, so a 2-core host holds 2 × 16 = 32 vCPUs of
 * container caps: 128 containers of 0.25 vCPU (or 32 of 1 vCPU, where 8:1 allowed 16), so
 * 100 small containers fit with room; memory (1.5:1) is then what limits a small host.
 * A VM's vCPUs are threads that hold guest kernels and do not idle as cheaply, so VMs stay at
 * 4:1 (Nova's and Proxmox's usual advice); both share one allocation per host, each limited by
 * its own ratio.
 */
export const DEFAULT_POLICY: PlacementPolicy = Object.freeze({
  strategy: 'binpack' as const,
  ratios: Object.freeze({
    vm: Object.freeze({ vcpus: 4, memoryMiB: 1, diskGiB: 1 }),
    container: Object.freeze({ vcpus: 16, memoryMiB: 1.5, diskGiB: 1 }),
  }),
  reserved: Object.freeze({ vcpus: 0, memoryMiB: 0, diskGiB: 0 }),
  maxInstancesPerHost: 250,
});

/**
 * What instances of one technology may claim on a host in total. The controller's atomic claim
 * in PostgreSQL uses exactly these numbers, so keep both sides in step:
 *
 *   usable.vcpus     = floor(capacity.vcpus     × ratios[technology].vcpus)     − reserved.vcpus   (in milli-vCPUs)
 *   usable.memoryMiB = floor(capacity.memoryMiB × ratios[technology].memoryMiB) − reserved.memoryMiB
 *   usable.diskGiB   = floor(capacity.diskGiB   × ratios[technology].diskGiB)   − reserved.diskGiB
 *   usable.instances = min(capacity.instances || maxInstancesPerHost, maxInstancesPerHost)
 *
 * A host fits a claim (request + driver overhead) when, for every resource r,
 * `allocated.r + claim.r <= usable.r` and `allocated.instances + 1 <= usable.instances` — in SQL
 * `UPDATE hosts SET allocated = allocated + claim WHERE allocated + claim <= usable`. `allocated`
 * is one sum over both technologies; the limit is that of the technology being placed.
 * All results are integers (vCPUs: whole milli-vCPUs, as stored; returned as a decimal). The floor is that of the exact decimal product (what PostgreSQL's
 * `floor(capacity * ratio::numeric)` gives), so a ratio like 1.1 does not lose a unit to
 * binary floating point.
 */
export function usableCapacity(
  host: Pick<HostSnapshot, 'capacity'>,
  technology: Technology,
  policy: PlacementPolicy,
): Capacity {
  const ratio = policy.ratios[technology];
  const { capacity } = host;
  return {
    vcpus: fromMilliVcpus(floorProduct(toMilliVcpus(capacity.vcpus), ratio.vcpus) - toMilliVcpus(policy.reserved.vcpus)),
    memoryMiB: floorProduct(capacity.memoryMiB, ratio.memoryMiB) - policy.reserved.memoryMiB,
    diskGiB: floorProduct(capacity.diskGiB, ratio.diskGiB) - policy.reserved.diskGiB,
    instances: Math.min(capacity.instances || policy.maxInstancesPerHost, policy.maxInstancesPerHost),
  };
}

function floorProduct(amount: number, ratio: number): number {
  const product = amount * ratio;
  const nearest = Math.round(product);
  // 10 × 1.1 is 11.000000000000002 and 100 × 0.29 is 28.999999999999996 in binary floating point.
  return Math.abs(product - nearest) <= 1e-9 * Math.max(1, Math.abs(product)) ? nearest : Math.floor(product);
}
