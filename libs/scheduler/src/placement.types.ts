import {
  Arch,
  Capability,
  Capacity,
  DriverName,
  DriverProbe,
  HostStatus,
  IsolationNeeds,
  OsFamily,
  RequestedTechnology,
  Resources,
  Technology,
  TemplateSpec,
} from '@hyperplane/domain';

/** A host as the scheduler sees it at one moment. Plain data, no I/O. */
export interface HostSnapshot {
  id: string;
  name: string;
  status: HostStatus;
  os: OsFamily;
  osVersion: string;
  kernel: string;
  arch: Arch;
  labels: Readonly<Record<string, string>>;
  zone: string | null;
  /** Physical size; `instances` is the host's own density cap (0 = the policy's). */
  capacity: Capacity;
  /** What instances have claimed so far, including driver overheads. */
  allocated: Capacity;
  drivers: readonly DriverProbe[];
  /** Templates already cached on the host (locality). */
  templates?: readonly string[];
  /** Placement-group id → how many of the group's instances run here. */
  groups?: Readonly<Record<string, number>>;
  /** Creates that failed here since the last one that succeeded (see weighers.ts). */
  createFailures?: number;
  /**
   * macOS guests holding one of the host's two licence slots (see MAX_MACOS_GUESTS): running,
   * paused or suspended, and those being created. Absent = none.
   */
  macosGuests?: number;
}

/** How far a resource may be overcommitted: usable = capacity × ratio − reserved. */
export interface AllocationRatios {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

export type Strategy = 'binpack' | 'spread';

export interface PlacementPolicy {
  strategy: Strategy;
  ratios: Record<Technology, AllocationRatios>;
  /** Kept for the host itself on every host. */
  reserved: Resources;
  /** Instances per host at most, unless the host declares a lower cap. */
  maxInstancesPerHost: number;
  /** Above this many fitting hosts, score a sample of this size (0 = score all). */
  sampleSize?: number;
  /** Seeds the deterministic sample (where a scan starts); same seed and state, same decision. */
  seed?: number;
}

export interface PlacementGroupSpec {
  id: string;
  name: string;
  policy: 'affinity' | 'anti-affinity';
  /** Hard (filter) or soft (weigher). */
  strict: boolean;
  /** Instances of the group per host at most. */
  maxPerHost?: number;
}

export interface PlacementRequest {
  template: TemplateSpec;
  technology: RequestedTechnology;
  resources: Resources;
  /** Guest architecture; absent = any the template offers. */
  arch?: Arch;
  isolation?: IsolationNeeds;
  /** Driver capabilities the instance will need (snapshot, liveMigrate, …). */
  capabilities?: Capability[];
  /** Pin to one host. */
  hostId?: string;
  /** Hosts this instance must not go to: each already failed to create it. */
  excludeHosts?: readonly string[];
  requiredLabels?: Record<string, string>;
  preferredLabels?: Record<string, string>;
  zone?: string;
  group?: PlacementGroupSpec;
  /** Overrides the policy's strategy for this request. */
  strategy?: Strategy;
}

export interface Candidate {
  hostId: string;
  hostName: string;
  driver: DriverName;
  technology: Technology;
  arch: Arch;
  score: number;
}

/** One filter's verdict over the fleet: "7012 have no container driver for windows-server-2022". */
export interface Rejection {
  code: string;
  count: number;
  message: string;
}

export interface Explanation {
  /** One or two sentences a person can read. */
  summary: string;
  technology?: { chosen: Technology; reason: string };
  hostsConsidered: number;
  rejections: Rejection[];
  chosen?: Candidate;
  alternatives: Candidate[];
  /** Hosts that passed every filter (with sampling: among the hosts scanned). */
  fitting?: number;
  /**
   * Present when sampling stopped the scan early: `size` fitting hosts were scored and
   * `skipped` hosts that passed the static filters were not evaluated. Then
   * fitting + skipped + Σ rejections = hostsConsidered.
   */
  sampled?: { size: number; skipped: number };
  /** `auto` only: the technology tried first and why no host took it. */
  otherTechnology?: { technology: Technology; summary: string; rejections: Rejection[] };
}

export interface PlacementSuccess {
  ok: true;
  hostId: string;
  hostName: string;
  technology: Technology;
  driver: DriverName;
  arch: Arch;
  score: number;
  /** What to claim on the host: the request plus the driver's overhead. */
  claim: Resources;
  /** The request's placement group, so that `commit()` can count the member. */
  groupId?: string;
  /** A macOS guest: `commit()` counts it against the host's macOS guest slots. */
  macosGuest?: true;
  explanation: Explanation;
}

export interface PlacementFailure {
  ok: false;
  /** The summary, repeated for callers that store one string. */
  reason: string;
  explanation: Explanation;
}

export type PlacementDecision = PlacementSuccess | PlacementFailure;
