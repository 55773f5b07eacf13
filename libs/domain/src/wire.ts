import { Arch, Technology } from './enums';
import { IsolationNeeds } from './isolation';
import { Resources } from './resources';
import { TemplateSpec } from './template';

// Wire types: what a host command carries to a driver and what a driver reports back. They live
// here so that queue payloads, the controller and the drivers share one definition.

/** Limits beyond the sizing resources; drivers apply what their technology can enforce. */
export interface InstanceLimits {
  /** Relative CPU weight (cgroup cpu.shares, 1024 = one normal share). */
  cpuUnits?: number;
  /** Hard cap in percent of one CPU (e.g. 150 = one and a half CPUs). */
  cpuCapPercent?: number;
  swapMiB?: number;
  /** Maximum number of processes (pids.max). */
  pids?: number;
  /** Relative block I/O weight, 10–1000. */
  ioWeight?: number;
}

/** Everything a driver needs to create an instance. Names and ids are validated before they get here. */
export interface InstanceSpec {
  /** The instance id (a UUID); the driver's handle for it on this host. */
  id: string;
  name: string;
  template: TemplateSpec;
  technology: Technology;
  arch: Arch;
  resources: Resources;
  limits?: InstanceLimits;
  network?: { bridge?: string };
  /** The request's isolation needs: a Windows container that needs its own kernel gets Hyper-V isolation. */
  isolation?: IsolationNeeds;
}

export type ActualState = 'running' | 'stopped' | 'suspended';

/** What a driver reads back from the host about one instance. */
export interface InstanceStatus {
  id: string;
  state: ActualState;
  technology: Technology;
  resources?: Resources;
  limits?: InstanceLimits;
  /** Driver-specific facts: accelerator, pid, console log path, … */
  details?: Record<string, unknown>;
}

/** Which instances exist and in which state, without limits or usage: what the agent's sync reports. */
export interface InstanceObservation {
  id: string;
  state: ActualState;
  /** Why it stopped when it stopped on its own (e.g. a VM whose process died). */
  exitReason?: string;
}

export interface StopOptions {
  /** Skip the graceful shutdown. */
  force?: boolean;
  /** Graceful shutdown time before forcing; drivers pick a default. */
  timeoutS?: number;
}

export interface SnapshotInfo {
  name: string;
  createdAt: string;
}

/**
 * What a failure means for the request:
 * - `Transient`: retry on the same host (the tool or daemon was briefly unavailable);
 * - `Unavailable`, `Fatal`: this host cannot do it (a missing template image, a missing
 *   driver, a broken tool) — another host may, so a create is tried elsewhere;
 * - `InvalidArgument`, `Unsupported`: the request itself is wrong or asks for what this kind of
 *   driver never does — fatal for the request, no host will do better;
 * - `NotFound`, `Conflict`: about the instance's existence or state on this host.
 */
export const DRIVER_ERROR_CODES = ['NotFound', 'Conflict', 'Unsupported', 'Unavailable', 'Transient', 'Fatal', 'InvalidArgument'] as const;
export type DriverErrorCode = (typeof DRIVER_ERROR_CODES)[number];

/** Codes that say the request is wrong wherever it runs: a create failing so is not tried on another host. */
export const REQUEST_ERROR_CODES: readonly DriverErrorCode[] = ['InvalidArgument', 'Unsupported'];

// ---- Migration -------------------------------------------------------------------------------
// A move runs as host commands in this order, each answered before the next is sent:
//   1. destination `migrate-prepare` → a MigrationTarget (where and how to send);
//   2. source `migrate-send` with that target → MigrationStats;
//   3. destination `migrate-finish` → the instance runs there;
//   4. source `migrate-cleanup` → the source copy is removed.
// On a failure: destination `migrate-abort` first (its copy is removed), then source
// `migrate-abort` (the instance runs on the source again). See libs/drivers/src/driver.ts.

export type MigrationMode = 'live' | 'offline';
export const MIGRATION_MODES: readonly MigrationMode[] = ['live', 'offline'];
export type MigrationSide = 'source' | 'destination';
export const MIGRATION_SIDES: readonly MigrationSide[] = ['source', 'destination'];

/** What the source needs to reach the destination; made by the destination, passed on by the controller. */
export interface MigrationTarget {
  mode: MigrationMode;
  /** The destination's address as the source can reach it (an IP or a host name). */
  host: string;
  /** The port the destination listens on for the instance (QEMU's incoming stream, or the archive). */
  port: number;
  /** A second port where the technology needs one (QEMU: the NBD server for the disk). */
  diskPort?: number;
  /** A one-time secret (64 hex digits): the archive transfer's token, or QEMU's TLS pre-shared key. A credential: never log it. */
  token?: string;
}

/** Options of the destination's preparation. */
export interface MigrationReceiveOptions {
  mode: MigrationMode;
}

/** What a move cost, as the source measured it. */
export interface MigrationStats {
  mode: MigrationMode;
  /** From the start of the send to the instance being handed over. */
  totalMs: number;
  /** How long the workload did not run: QEMU's measured downtime for live, stop-to-handover for offline. */
  downtimeMs?: number;
  /** Bytes sent (memory and disk for live, the archive for offline). */
  transferredBytes?: number;
  /** SHA-256 of the archive sent (offline). */
  sha256?: string;
}
