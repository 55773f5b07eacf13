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
