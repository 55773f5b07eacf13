import { Arch, Capability, DriverName, HostStatus, OsFamily, Technology } from './enums';
import { Resources } from './resources';

/**
 * Guests a driver can run. `distributions` maps a distribution to its versions (`*` = any);
 * absent means any distribution of `os`.
 */
export interface GuestSupport {
  os: OsFamily;
  archs: Arch[];
  distributions?: Record<string, string[]>;
}

/** One technology a driver offers on a host (prlctl on Virtuozzo offers both). */
export interface DriverOffer {
  technology: Technology;
  guests: GuestSupport[];
  capabilities: Capability[];
  /** Host resources each instance costs beyond its request: a VM carries a hypervisor and its own kernel. */
  overhead: Resources;
  /** Guest architectures the driver runs by emulation (slowly) besides the host's own. */
  emulates?: Arch[];
}

/** What `probe()` tells about a driver on one host (cf. Incus `Info()`, Nomad `Fingerprint()`). */
export interface DriverProbe {
  name: DriverName;
  installed: boolean;
  version?: string;
  /** Why the driver cannot be used here, when it cannot. */
  error?: string;
  /** For VM drivers: kvm, hvf, whpx, tcg, … */
  accelerator?: string;
  offers: DriverOffer[];
}

/** What an agent reports about its host. */
export interface HostInventory {
  hostname: string;
  os: OsFamily;
  osVersion: string;
  kernel: string;
  arch: Arch;
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
  drivers: DriverProbe[];
  labels?: Record<string, string>;
  zone?: string;
  simulated?: boolean;
  agentVersion?: string;
}

export interface Capacity extends Resources {
  instances: number;
}

export interface HostSummary {
  id: string;
  name: string;
  status: HostStatus;
}
