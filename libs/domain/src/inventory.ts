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
  /** Driver-specific facts worth showing (cgroup version, binaries, …). */
  details?: Record<string, unknown>;
}

const PROBE_FIELDS = new Set(['name', 'installed', 'version', 'error', 'accelerator', 'offers', 'details']);

/** A probe in the contract's shape: fields a driver adds of its own move under `details`. */
export function normalizeProbe(probe: DriverProbe): DriverProbe {
  const extra = Object.fromEntries(Object.entries(probe).filter(([k]) => !PROBE_FIELDS.has(k)));
  const out: DriverProbe = { name: probe.name, installed: probe.installed, offers: probe.offers };
  if (probe.version !== undefined) out.version = probe.version;
  if (probe.error !== undefined) out.error = probe.error;
  if (probe.accelerator !== undefined) out.accelerator = probe.accelerator;
  if (probe.details || Object.keys(extra).length) out.details = { ...probe.details, ...extra };
  return out;
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

/**
 * Hosts per agent request (enrollment, inventory). An agent speaking for more, a simulated
 * fleet, sends them in pages, so the agents' routes need no large body limit.
 */
export const MAX_HOSTS_PER_AGENT_REQUEST = 1_000;
