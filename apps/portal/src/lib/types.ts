// The wire shapes the portal reads from /v1 (a subset of what the API sends).
export type Role = 'admin' | 'operator' | 'viewer';

export interface Session {
  name: string;
  role: Role;
  fleetWide: boolean;
  projects: { id: string; name: string }[] | null;
  visibleProjects: { id: string; name: string }[];
}

export interface Resources {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

export interface Candidate {
  hostId: string;
  hostName: string;
  driver: string;
  technology: string;
  score: number;
}

export interface Explanation {
  summary: string;
  technology?: { chosen: string; reason: string };
  hostsConsidered?: number;
  rejections?: { code: string; count?: number; message: string }[];
  chosen?: Candidate;
  alternatives?: Candidate[];
  fitting?: number;
  otherTechnology?: { technology: string; summary?: string; rejections: { code: string; count?: number; message: string }[] };
}

export interface Instance {
  id: string;
  name: string;
  projectId: string;
  template: string;
  requestedTechnology: string;
  technology: string | null;
  driver: string | null;
  arch: string | null;
  hostId: string | null;
  state: string;
  desiredState: string;
  stateReason: string | null;
  resources: Resources;
  limits: Record<string, unknown> | null;
  isolation: Record<string, unknown> | null;
  placement: Record<string, unknown>;
  placementExplanation: Explanation | null;
  createdAt: string;
  updatedAt: string;
}

export interface Host {
  id: string;
  name: string;
  status: string;
  statusReason: string | null;
  os: string;
  osVersion: string;
  arch: string;
  simulated: boolean;
  labels: Record<string, string>;
  zone: string | null;
  capacity: Resources & { instances: number };
  allocated: Resources & { instances: number };
  drivers: { name: string; installed: boolean; error?: string; accelerator?: string; offers: { technology: string; capabilities: string[]; overhead: Resources }[] }[];
  createFailures: number;
  lastHeartbeatAt: string | null;
  /** When a drain with a deadline evacuates what is still on the host (absent before the API sends it). */
  drainDeadline?: string | null;
  /** The evacuation that the drain deadline started (absent before the API sends it). */
  drainEvacuationId?: string | null;
  createdAt: string;
}

export interface Operation {
  id: string;
  kind: string;
  status: string;
  progress: number;
  step: string;
  error: { code?: string; message?: string } | null;
  instanceId: string | null;
  projectId: string;
  parentId: string | null;
  /** The token that asked; null when the system did (see initiator). */
  requestedBy: string | null;
  /** Who started it when no token did, e.g. "system:drain-deadline" (where the API sends it). */
  initiator?: string | null;
  result: Record<string, unknown> | null;
  /**
   * Where the API sends them: a migrate's source and (once placed) destination, with their names
   * when it was placed; an evacuate's host (fromHostId). Else a migrate's result.from/to once done.
   */
  fromHostId?: string | null;
  fromHostName?: string | null;
  toHostId?: string | null;
  toHostName?: string | null;
  /** A migrate's mode, where the API sends it (else result.mode once done). */
  live?: boolean | null;
  mode?: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Template {
  name: string;
  os?: string;
  osFamily?: string;
  distribution?: string;
  version?: string;
  description?: string;
  technologies?: string[];
  archs?: string[];
}

export interface Decision {
  ok: boolean;
  hostId?: string;
  hostName?: string;
  technology?: string;
  driver?: string;
  score?: number;
  claim?: Resources;
  reason?: string;
  explanation: Explanation;
}

export interface Overview {
  instances: { technology: string; state: string; count: number }[];
  usage: { technology: string; vcpus: number; memoryMiB: number; diskGiB: number; count: number }[];
  operationsInFlight: { kind: string; status: string; count: number }[];
  hosts: { os: string; status: string; count: number }[] | null;
  capacity: { vcpus: number; memoryMiB: number; diskGiB: number; allocVcpus: number; allocMemoryMiB: number; allocDiskGiB: number } | null;
  density: { hostId: string; hostName: string; os: string; status: string; containers: number; vms: number; overheadMemoryMiB: number; capMemoryMiB: number; allocMemoryMiB: number }[] | null;
  attention: { id: string; name: string; os: string; status: string; statusReason: string | null; createFailures: number }[] | null;
}
