import { DriverName, DriverProbe, InstanceLimits, InstanceObservation, InstanceSpec, InstanceStatus, Resources, SnapshotInfo, StopOptions } from '@hyperplane/domain';

// The wire types (what a command and a result carry) live in the domain; drivers re-export them.
export type { ActualState, InstanceLimits, InstanceObservation, InstanceSpec, InstanceStatus, SnapshotInfo, StopOptions } from '@hyperplane/domain';

export interface DriverContext {
  /** Aborted when the agent shuts down or the job is abandoned. */
  signal?: AbortSignal;
  /** Percent of this step and a short label, e.g. (40, 'cloning rootfs'). */
  progress?(percent: number, step: string): void;
}

/**
 * The contract every driver implements (checked by `test/conformance.ts`). Calls are
 * idempotent: creating an instance that exists with the same spec, starting a running one and
 * stopping a stopped one succeed; a create under an existing id with another spec is
 * `Conflict`; destroying a missing instance is `NotFound`, which callers treat as clean.
 * Failures are `DriverError`s whose code says what to do (see `driver.exception.ts`).
 * Optional features are declared per offer as capabilities in `probe()` and implemented as the
 * optional members below; a call the instance's offer does not declare is `Unsupported`.
 */
export interface Driver {
  readonly name: DriverName;
  probe(): Promise<DriverProbe>;
  /** Creates the instance, stopped. */
  create(spec: InstanceSpec, ctx?: DriverContext): Promise<InstanceStatus>;
  start(id: string, ctx?: DriverContext): Promise<InstanceStatus>;
  stop(id: string, opts?: StopOptions, ctx?: DriverContext): Promise<InstanceStatus>;
  restart(id: string, ctx?: DriverContext): Promise<InstanceStatus>;
  suspend(id: string, ctx?: DriverContext): Promise<InstanceStatus>;
  resume(id: string, ctx?: DriverContext): Promise<InstanceStatus>;
  /** Removes the instance and everything it left on the host; `NotFound` when there is nothing. */
  destroy(id: string, ctx?: DriverContext): Promise<void>;
  /** Throws `DriverError('NotFound')` for an instance that does not exist. */
  inspect(id: string): Promise<InstanceStatus>;
  list(): Promise<InstanceStatus[]>;
  /**
   * What `list()` says about states, read cheaply enough to run every sync on a full host: no
   * process per instance, no limits or usage. Drivers without it are listed with `list()`.
   */
  observe?(): Promise<InstanceObservation[]>;

  /** Capability `snapshot`. */
  snapshotCreate?(id: string, snapshot: string, ctx?: DriverContext): Promise<SnapshotInfo>;
  snapshotList?(id: string): Promise<SnapshotInfo[]>;
  snapshotRestore?(id: string, snapshot: string, ctx?: DriverContext): Promise<InstanceStatus>;
  snapshotDelete?(id: string, snapshot: string, ctx?: DriverContext): Promise<void>;
  /** Capability `clone`: a stopped copy of `sourceId` under `spec`. */
  clone?(sourceId: string, spec: InstanceSpec, ctx?: DriverContext): Promise<InstanceStatus>;
  /** Capability `liveResize` (running) or plain resize (stopped); a running resize without it is `Unsupported`. */
  resize?(id: string, resources: Resources, limits?: InstanceLimits, ctx?: DriverContext): Promise<InstanceStatus>;
  /** Capability `console`: the last `lines` lines of the instance's console log (oldest first; none yet is []). */
  consoleLog?(id: string, opts: { lines: number }): Promise<string[]>;
}
