import { DriverName, DriverProbe, InstanceLimits, InstanceObservation, InstanceSpec, InstanceStatus, MigrationReceiveOptions, MigrationSide, MigrationStats, MigrationTarget, Resources, SnapshotInfo, StopOptions } from '@hyperplane/domain';

// The wire types (what a command and a result carry) live in the domain; drivers re-export them.
export type { ActualState, InstanceLimits, InstanceObservation, InstanceSpec, InstanceStatus, MigrationMode, MigrationReceiveOptions, MigrationSide, MigrationStats, MigrationTarget, SnapshotInfo, StopOptions } from '@hyperplane/domain';

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

  /**
   * Migration (capability `liveMigrate` and/or `offlineMigrate`), in four steps that a
   * controller runs in order, each on one host, each idempotent:
   *
   * 1. `migrateReceive` on the destination prepares an empty copy of `spec` that waits for the
   *    instance (QEMU: a process started with `-incoming`; LXC: a one-shot authenticated
   *    listener for the archive) and returns where the source must send it.
   * 2. `migrateSend` on the source sends the instance to that target. Live: the guest runs on
   *    the source until QEMU switches over; offline: the instance is stopped first. On success
   *    the source copy is left stopped/paused but intact; on failure (or `ctx.signal`) it is
   *    running again as before (QEMU resumes itself after `migrate_cancel`).
   * 3. `migrateFinish` on the destination waits for the transfer to be complete and verified,
   *    and makes the instance run there.
   * 4. `migrateCleanup` on the source removes the source copy; it refuses (`Conflict`) while
   *    that copy runs, so it can never delete the only running instance.
   *
   * `migrateAbort(id, 'destination')` removes whatever the destination has for `id` (its
   * listener, process, archive, copy); `migrateAbort(id, 'source')` makes the source copy run
   * again. After a failure the controller aborts the destination FIRST and the source second, so
   * that the instance never runs on both hosts; each abort is safe to repeat.
   */
  migrateReceive?(spec: InstanceSpec, opts: MigrationReceiveOptions, ctx?: DriverContext): Promise<MigrationTarget>;
  migrateSend?(id: string, target: MigrationTarget, ctx?: DriverContext): Promise<MigrationStats>;
  migrateFinish?(id: string, ctx?: DriverContext): Promise<InstanceStatus>;
  migrateCleanup?(id: string, ctx?: DriverContext): Promise<void>;
  migrateAbort?(id: string, side: MigrationSide, ctx?: DriverContext): Promise<InstanceStatus | undefined>;

  /** Capability `console`: the last `lines` lines of the instance's console log (oldest first; none yet is []). */
  consoleLog?(id: string, opts: { lines: number }): Promise<string[]>;

  /** Lets go of what the driver holds open between calls (an incoming migration's listener); the agent calls it when it stops. */
  close?(): Promise<void>;
}
