/**
 * What an instance asks of a host. Memory in MiB and disk in GiB, as whole numbers; vCPUs as a
 * decimal with at most three places (a container may ask for 0.25; a VM asks whole vCPUs).
 * Stored and summed as whole milli-vCPUs (toMilliVcpus): exact arithmetic, no float drift.
 */
export interface Resources {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

export const RESOURCE_KEYS = ['vcpus', 'memoryMiB', 'diskGiB'] as const;

/** Upper bounds a request may ask for; anything above is a client mistake, not a scheduling problem. */
export const RESOURCE_LIMITS: Resources = { vcpus: 512, memoryMiB: 16 * 1024 * 1024, diskGiB: 1024 * 1024 };

/** 1 vCPU = 1000 milli-vCPUs: the unit of storage, of claims and of capacity arithmetic. */
export const MILLI_PER_VCPU = 1000;

/**
 * The smallest container: 0.01 vCPU, i.e. 1 ms of CPU time per 100 ms period — the smallest
 * quota cgroup v2 `cpu.max` accepts (1000 µs).
 */
export const MIN_CONTAINER_VCPUS = 0.01;

/** vCPUs (a decimal) → whole milli-vCPUs; rounding absorbs binary drift such as 0.1 + 0.2. */
export function toMilliVcpus(vcpus: number): number {
  return Math.round(vcpus * MILLI_PER_VCPU);
}

/** Whole milli-vCPUs → vCPUs (k / 1000 is the double nearest the decimal, so 250 → 0.25). */
export function fromMilliVcpus(milli: number): number {
  return milli / MILLI_PER_VCPU;
}

/** Whether `vcpus` has at most three decimal places (whole milli-vCPUs). */
export function isWholeMilliVcpus(vcpus: number): boolean {
  return Number.isFinite(vcpus) && Math.abs(vcpus * MILLI_PER_VCPU - toMilliVcpus(vcpus)) < 1e-6;
}

export const ZERO_RESOURCES: Readonly<Resources> = Object.freeze({ vcpus: 0, memoryMiB: 0, diskGiB: 0 });

export function addResources(a: Resources, b: Resources): Resources {
  return { vcpus: fromMilliVcpus(toMilliVcpus(a.vcpus) + toMilliVcpus(b.vcpus)), memoryMiB: a.memoryMiB + b.memoryMiB, diskGiB: a.diskGiB + b.diskGiB };
}

export function fitsWithin(need: Resources, free: Resources): boolean {
  return toMilliVcpus(need.vcpus) <= toMilliVcpus(free.vcpus) && need.memoryMiB <= free.memoryMiB && need.diskGiB <= free.diskGiB;
}

/**
 * Why `vcpus` cannot be the size of an instance of `technology` (null when it can): containers
 * take fractions down to MIN_CONTAINER_VCPUS in steps of 0.001 (a cgroup CPU cap); a VM's vCPUs
 * are virtual processors, whole by nature — a fraction is refused rather than rounded, so the
 * size billed and claimed is the size asked. `auto` with a fraction can only be a container.
 */
export function vcpusProblem(vcpus: number, technology: 'container' | 'vm' | 'auto'): string | null {
  if (!isWholeMilliVcpus(vcpus)) return 'must have at most three decimal places (0.001 vCPU steps)';
  if (vcpus < MIN_CONTAINER_VCPUS) return `must be at least ${MIN_CONTAINER_VCPUS}`;
  if (technology === 'vm' && !Number.isInteger(vcpus)) return `a VM has whole vCPUs (1, 2, …); ${vcpus} vCPU is a container size`;
  return null;
}
