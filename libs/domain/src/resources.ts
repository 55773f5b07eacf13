/** What an instance asks of a host. Memory in MiB and disk in GiB, as whole numbers. */
export interface Resources {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

export const RESOURCE_KEYS = ['vcpus', 'memoryMiB', 'diskGiB'] as const;

/** Upper bounds a request may ask for; anything above is a client mistake, not a scheduling problem. */
export const RESOURCE_LIMITS: Resources = { vcpus: 512, memoryMiB: 16 * 1024 * 1024, diskGiB: 1024 * 1024 };

export const ZERO_RESOURCES: Readonly<Resources> = Object.freeze({ vcpus: 0, memoryMiB: 0, diskGiB: 0 });

export function addResources(a: Resources, b: Resources): Resources {
  return { vcpus: a.vcpus + b.vcpus, memoryMiB: a.memoryMiB + b.memoryMiB, diskGiB: a.diskGiB + b.diskGiB };
}

export function fitsWithin(need: Resources, free: Resources): boolean {
  return need.vcpus <= free.vcpus && need.memoryMiB <= free.memoryMiB && need.diskGiB <= free.diskGiB;
}
