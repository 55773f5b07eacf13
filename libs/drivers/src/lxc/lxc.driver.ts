import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Resources } from '@hyperplane/domain';
import { Driver, DriverContext, InstanceLimits, InstanceObservation, InstanceSpec, InstanceStatus, MigrationReceiveOptions, MigrationSide, MigrationStats, MigrationTarget, SnapshotInfo, StopOptions } from '../driver';
import { assertMigrationSide, assertMigrationTarget, assertReceiveOptions, MigrationNetOptions, resolveMigrationNet } from '../migration';
import { awaitTransfer, IncomingTransfer, receiveFile, sendFile } from '../transfer/archive-transfer';
import { checkArchive, packContainer, readRecord, removeRecord, sourceRecordFile, unpackContainer, writeRecord } from './lxc-migration';
import { DriverOptions } from '../driver-options';
import { DriverError } from '../driver.exception';
import { runCommand } from '../exec/run-command';
import { readTailLines } from '../qemu/qemu-console';
import { assertInstanceId, assertSafeName } from '../validate';
import { CgroupLayout, detectCgroupLayout, interpretLimits, liveSettings, planLimits, readbackKeys } from './lxc-cgroup';
import {
  assertBridgeName,
  assertSafePath,
  assertSizing,
  cgroupValuesFromConfig,
  CONSOLE_LOG,
  DISK_LIMIT_NOTE,
  LXC_LOG,
  LxcInstanceMeta,
  META_FILE,
  readMeta,
  writeInstanceFiles,
} from './lxc-config';
import { exists, hostTotals } from './lxc-host';
import { KeyedMutex } from './lxc-lock';
import { notifyMonitor } from './lxc-monitor';
import { LxcProbe, probeLxc } from './lxc-probe';
import { LxcStateReader } from './lxc-state';
import { LxcTemplateCache } from './lxc-template-cache';
import { actualState, LxcInfo, LxcSnapshotEntry, LxcTools, snapshotName } from './lxc-tools';

export type { LxcProbe } from './lxc-probe';

/** How long a freeze or thaw may take before it is reported as Transient (lxc-wait's -t 15). */
const FREEZE_TIMEOUT_MS = 15_000;

export interface LxcDriverOptions extends DriverOptions {
  /** LXC's container directory, passed as `-P` to every lxc-* call (default `<stateDir>/containers`). */
  lxcPath?: string;
  /** Built template root filesystems (default `<stateDir>/templates`). */
  templateCacheDir?: string;
  /** Attach containers to this bridge with a veth; without it they get no network. */
  bridge?: string;
  /** Mirror debootstrap uses for debian templates. */
  debianMirror?: string;
  /** A static busybox for busybox templates (default: the first static one found). */
  busyboxPath?: string;
  /** Where procfs is (default /proc; tests point it at a fake tree). */
  procRoot?: string;
  /** Offline migration: where this host listens for archives and the address it gives to sources. */
  migration?: MigrationNetOptions & { receiveTimeoutMs?: number };
}

export class LxcDriver implements Driver {
  readonly name = 'lxc' as const;
  readonly lxcPath: string;
  readonly templates: LxcTemplateCache;
  private readonly tools: LxcTools;
  private readonly states: LxcStateReader;
  private readonly locks = new KeyedMutex();
  private layoutOnce?: Promise<CgroupLayout>;
  /** Archives this host waits for, by instance id (gone with the process: a restart means abort and again). */
  private readonly incoming = new Map<string, IncomingTransfer>();
  private readonly migrationDir: string;

  constructor(private readonly opts: LxcDriverOptions) {
    this.lxcPath = assertSafePath('lxcPath', opts.lxcPath ?? join(opts.stateDir, 'containers'));
    if (opts.bridge) assertBridgeName(opts.bridge);
    this.migrationDir = assertSafePath('migration dir', join(opts.stateDir, 'migrations'));
    this.tools = new LxcTools(this.lxcPath);
    this.states = new LxcStateReader({ lxcPath: this.lxcPath, layout: () => this.layout(), info: (name) => this.tools.info(name), procRoot: opts.procRoot });
    this.templates = new LxcTemplateCache({
      dir: assertSafePath('templateCacheDir', opts.templateCacheDir ?? join(opts.stateDir, 'templates')),
      hostArch: opts.hostArch,
      debianMirror: opts.debianMirror ?? 'http://deb.debian.org/debian',
      busyboxPath: opts.busyboxPath,
    });
  }

  probe(): Promise<LxcProbe> {
    return probeLxc({ hostOs: this.opts.hostOs, tools: this.tools, templates: this.templates, layout: () => this.layout() });
  }

  async create(spec: InstanceSpec, ctx: DriverContext = {}): Promise<InstanceStatus> {
    const bridge = this.checkSpec(spec);
    // Refuse what cannot be built before anything exists on the host.
    const recipe = await this.templates.resolve(spec.template, spec.arch, spec.technology);
    return this.locks.run(spec.id, async () => {
      const existing = await this.existing(spec.id);
      if (existing) {
        if (existing.meta && existing.meta.templateKey !== recipe.key) {
          throw new DriverError('Conflict', `${spec.id} exists with template ${existing.meta.templateKey}, not ${recipe.key}`);
        }
        const had = existing.meta?.resources;
        if (had && (had.vcpus !== spec.resources.vcpus || had.memoryMiB !== spec.resources.memoryMiB || had.diskGiB !== spec.resources.diskGiB)) {
          throw new DriverError('Conflict', `${spec.id} exists with ${had.vcpus} vCPU, ${had.memoryMiB} MiB, ${had.diskGiB} GiB, not the resources asked for`);
        }
        return this.describe(spec.id, existing.info);
      }
      ctx.progress?.(10, `template ${recipe.key}`);
      const cached = await this.templates.ensure(recipe, ctx);
      ctx.progress?.(60, 'copying rootfs');
      const meta: LxcInstanceMeta = {
        schema: 1,
        id: spec.id,
        name: spec.name,
        template: spec.template,
        templateKey: recipe.key,
        arch: spec.arch,
        resources: { ...spec.resources },
        limits: spec.limits ? { ...spec.limits } : undefined,
        bridge,
        boot: recipe.boot,
        createdAt: new Date().toISOString(),
      };
      await this.materialize(meta, (rootfs) => this.templates.copyRootfs(cached, rootfs, ctx.signal));
      ctx.progress?.(100, 'created');
      return this.inspect(spec.id);
    });
  }

  async start(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      await this.refuseIfMigrating(id);
      return this.doStart(id, ctx);
    });
  }

  async stop(id: string, opts: StopOptions = {}, _ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, () => this.doStop(id, opts));
  }

  async restart(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      await this.refuseIfMigrating(id);
      await this.doStop(id, {});
      return this.doStart(id, ctx);
    });
  }

  async suspend(id: string, _ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const info = await this.requireInfo(id);
      const state = actualState(info.state);
      if (state === 'stopped') throw new DriverError('Conflict', `${id} is stopped; only a running container can be suspended`);
      if (info.state === 'FROZEN') return this.describe(id, info);
      // Running, or FREEZING (someone else's freeze under way): frozen and waited for, so it is FROZEN.
      await this.freeze(id);
      return this.describe(id, { ...info, state: 'FROZEN' });
    });
  }

  async resume(id: string, _ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const info = await this.requireInfo(id);
      const state = actualState(info.state);
      if (state === 'stopped') throw new DriverError('Conflict', `${id} is stopped; start it instead`);
      if (state !== 'suspended') return this.describe(id, info);
      await this.thaw(id);
      return this.describe(id, { ...info, state: 'RUNNING' });
    });
  }

  async destroy(id: string, _ctx: DriverContext = {}): Promise<void> {
    assertInstanceId(id);
    await this.locks.run(id, async () => {
      const dir = this.dirOf(id);
      const staging = (await readdir(this.lxcPath).catch(() => [] as string[])).filter((e) => e.startsWith(`.staging-${id}-`));
      // A half-made container (a directory, a staging copy) is removed; nothing at all is NotFound.
      if (!(await exists(dir)) && staging.length === 0) throw new DriverError('NotFound', `no container ${id}`);
      if (await exists(join(dir, 'config'))) {
        const info = await this.states.info(id);
        if (info && info.state !== 'STOPPED') await this.doStop(id, { force: true });
        try {
          await this.tools.destroy(id);
        } catch (error) {
          // A half-written container LXC cannot load is removed below, but never a running one.
          if ((await this.tools.info(id).catch(() => undefined))?.state !== 'STOPPED') throw error;
        }
      }
      await rm(dir, { recursive: true, force: true });
      for (const entry of await readdir(this.lxcPath).catch(() => [] as string[])) {
        if (entry.startsWith(`.staging-${id}-`)) await rm(join(this.lxcPath, entry), { recursive: true, force: true });
      }
    });
  }

  async inspect(id: string): Promise<InstanceStatus> {
    return this.describe(id, await this.requireInfo(id));
  }

  async list(): Promise<InstanceStatus[]> {
    const entries = await this.states.list();
    const out = new Array<InstanceStatus>(entries.length);
    // A few at once: each reads its meta, config or cgroup files.
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(8, entries.length) }, async () => {
        for (let i = next++; i < entries.length; i = next++) out[i] = await this.describe(entries[i]!.name, entries[i]!);
      }),
    );
    return out;
  }

  /** Every container's state from the kernel in one pass, with no process per container. */
  async observe(): Promise<InstanceObservation[]> {
    return (await this.states.list()).map((e) => ({ id: e.name, state: actualState(e.state) }));
  }

  async snapshotCreate(id: string, snapshot: string, _ctx: DriverContext = {}): Promise<SnapshotInfo> {
    assertInstanceId(id);
    assertSafeName('snapshot name', snapshot);
    return this.locks.run(id, async () => {
      const info = await this.requireInfo(id);
      const taken = await this.findSnapshot(id, snapshot);
      if (taken) return { name: snapshot, createdAt: taken.createdAt };
      if (info.state === 'STOPPED') {
        // LXC names snapshots snap0, snap1, …; ours is kept as the snapshot's comment.
        const comment = join(this.dirOf(id), '.snapshot-comment');
        await writeFile(comment, `${snapshot}\n`);
        try {
          await this.tools.snapshotCreate(id, comment);
        } finally {
          await rm(comment, { force: true });
        }
      } else if (info.state === 'RUNNING' || info.state === 'FROZEN' || info.state === 'THAWED') {
        await this.snapshotLive(id, snapshot, info.state !== 'FROZEN');
      } else {
        throw new DriverError('Transient', `${id} is ${info.state}; snapshot it once it has settled`);
      }
      const made = await this.findSnapshot(id, snapshot);
      if (!made) throw new DriverError('Fatal', `lxc-snapshot reported success but ${snapshot} is not listed`);
      return { name: snapshot, createdAt: made.createdAt };
    });
  }

  async snapshotList(id: string): Promise<SnapshotInfo[]> {
    await this.requireInfo(id);
    return (await this.tools.snapshotList(id)).map((s) => ({ name: snapshotName(s), createdAt: s.createdAt }));
  }

  async snapshotRestore(id: string, snapshot: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    assertSafeName('snapshot name', snapshot);
    return this.locks.run(id, async () => {
      const info = await this.requireInfo(id);
      const target = await this.findSnapshot(id, snapshot);
      if (!target) throw new DriverError('NotFound', `${id} has no snapshot ${snapshot}`);
      const meta = await readMeta(this.dirOf(id));
      const wasUp = actualState(info.state) !== 'stopped';
      if (wasUp) await this.doStop(id, {});
      await this.tools.snapshotRestore(id, target.lxcName);
      // The restore brings back the snapshot's rootfs and config; the current sizing stays.
      if (meta) await writeInstanceFiles(this.dirOf(id), meta, await this.layout());
      return wasUp ? this.doStart(id, ctx) : this.inspect(id);
    });
  }

  async snapshotDelete(id: string, snapshot: string, _ctx: DriverContext = {}): Promise<void> {
    assertInstanceId(id);
    assertSafeName('snapshot name', snapshot);
    await this.locks.run(id, async () => {
      await this.requireInfo(id);
      const target = await this.findSnapshot(id, snapshot);
      if (target) await this.tools.snapshotDestroy(id, target.lxcName);
    });
  }

  async clone(sourceId: string, spec: InstanceSpec, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(sourceId);
    const bridge = this.checkSpec(spec);
    if (sourceId === spec.id) throw new DriverError('InvalidArgument', 'a clone needs an id of its own');
    const [first, second] = [sourceId, spec.id].sort() as [string, string];
    return this.locks.run(first, () =>
      this.locks.run(second, async () => {
        const existing = await this.existing(spec.id);
        if (existing) return this.describe(spec.id, existing.info);
        const info = await this.requireInfo(sourceId);
        const source = await readMeta(this.dirOf(sourceId));
        if (!source) throw new DriverError('Fatal', `${sourceId} has no ${META_FILE}; it was not made by this driver`);
        const meta: LxcInstanceMeta = {
          ...source,
          id: spec.id,
          name: spec.name,
          resources: { ...spec.resources },
          limits: spec.limits ? { ...spec.limits } : undefined,
          bridge,
          createdAt: new Date().toISOString(),
          clonedFrom: sourceId,
        };
        // A running source is frozen for the copy, so the clone sees one moment of it.
        const freeze = actualState(info.state) === 'running';
        if (freeze) await this.freeze(sourceId);
        try {
          ctx.progress?.(20, 'copying rootfs');
          await this.materialize(meta, (rootfs) =>
            runCommand('cp', ['-a', '--reflink=auto', '--', join(this.dirOf(sourceId), 'rootfs'), rootfs], { timeoutMs: 15 * 60_000, signal: ctx.signal }).then(
              () => undefined,
            ),
          );
        } finally {
          if (freeze) await this.thaw(sourceId);
        }
        return this.inspect(spec.id);
      }),
    );
  }

  async resize(id: string, resources: Resources, limits?: InstanceLimits, _ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    assertSizing(resources, limits);
    return this.locks.run(id, async () => {
      const info = await this.requireInfo(id);
      const dir = this.dirOf(id);
      const meta = await readMeta(dir);
      if (!meta) throw new DriverError('Fatal', `${id} has no ${META_FILE}; it was not made by this driver`);
      const next: LxcInstanceMeta = { ...meta, resources: { ...resources }, limits: limits ? { ...limits } : meta.limits };
      const layout = await this.layout();
      if (actualState(info.state) !== 'stopped') {
        try {
          for (const s of liveSettings(layout, planLimits(layout, next.resources, next.limits))) await this.tools.cgroupSet(id, s.key, s.value);
        } catch (error) {
          // Put the previous limits back as far as the kernel lets us, then report.
          for (const s of liveSettings(layout, planLimits(layout, meta.resources, meta.limits))) {
            await this.tools.cgroupSet(id, s.key, s.value).catch(() => undefined);
          }
          throw new DriverError('Conflict', `cannot resize running ${id}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      await writeInstanceFiles(dir, next, layout);
      return this.inspect(id);
    });
  }

  /**
   * Destination of an offline migration: a one-shot listener for the container's archive, with
   * a fresh token. Idempotent while this process still waits for it.
   */
  async migrateReceive(spec: InstanceSpec, opts: MigrationReceiveOptions, ctx: DriverContext = {}): Promise<MigrationTarget> {
    this.checkSpec(spec);
    const { mode } = assertReceiveOptions(opts);
    if (mode !== 'offline') throw new DriverError('Unsupported', 'the lxc driver migrates containers offline only');
    const net = resolveMigrationNet(this.opts.migration);
    return this.locks.run(spec.id, async () => {
      const recFile = this.incomingRecord(spec.id);
      const rec = await readRecord(recFile);
      const waiting = this.incoming.get(spec.id);
      if (rec?.state === 'receiving' && waiting && rec.target) return rec.target;
      if (rec) await this.removeIncoming(spec.id); // from an earlier try (or before a restart): start over
      if (await exists(this.dirOf(spec.id))) throw new DriverError('Conflict', `container ${spec.id} already exists on this host`);
      await mkdir(this.migrationDir, { recursive: true, mode: 0o700 });
      ctx.progress?.(50, 'waiting for the archive');
      const transfer = await receiveFile({ listenHost: net.listenHost, advertiseHost: net.advertiseHost, file: this.archiveOf(spec.id), timeoutMs: this.opts.migration?.receiveTimeoutMs });
      this.incoming.set(spec.id, transfer);
      const target: MigrationTarget = { mode: 'offline', host: transfer.host, port: transfer.port, token: transfer.token };
      try {
        await writeRecord(recFile, { side: 'destination', state: 'receiving', target, at: new Date().toISOString() });
      } catch (e) {
        await this.removeIncoming(spec.id);
        throw e;
      }
      return target;
    });
  }

  /**
   * Source of an offline migration: stops the container, packs its rootfs and meta and sends the
   * archive. The stopped container stays until `migrateCleanup`; a failure starts it again if it ran.
   */
  async migrateSend(id: string, target: MigrationTarget, ctx: DriverContext = {}): Promise<MigrationStats> {
    assertInstanceId(id);
    const checked = assertMigrationTarget(target, { mode: 'offline', needToken: true });
    return this.locks.run(id, async () => {
      const info = await this.requireInfo(id);
      const dir = this.dirOf(id);
      if (!(await readMeta(dir))) throw new DriverError('Fatal', `${id} has no ${META_FILE}; it was not made by this driver`);
      const recFile = sourceRecordFile(dir);
      const prior = await readRecord(recFile);
      if (prior?.state === 'sent' && prior.stats && prior.target?.token === checked.token) return prior.stats; // the command came again
      const wasRunning = prior?.wasRunning ?? actualState(info.state) !== 'stopped';
      const started = Date.now();
      await writeRecord(recFile, { side: 'source', state: 'sending', wasRunning, target: checked, at: new Date().toISOString() });
      await mkdir(this.migrationDir, { recursive: true, mode: 0o700 });
      const archive = this.archiveOf(id);
      try {
        ctx.progress?.(5, 'stopping');
        await this.doStop(id, { timeoutS: 30 });
        const stoppedAt = Date.now();
        ctx.progress?.(20, 'packing the rootfs');
        await packContainer(dir, archive, ctx.signal);
        ctx.progress?.(40, 'sending');
        const sent = await sendFile({ host: checked.host, port: checked.port, token: checked.token! }, archive, {
          signal: ctx.signal,
          progress: (f) => ctx.progress?.(40 + 60 * f, 'sending'),
        });
        const stats: MigrationStats = { mode: 'offline', totalMs: Date.now() - started, downtimeMs: Date.now() - stoppedAt, transferredBytes: sent.bytes, sha256: sent.sha256 };
        await writeRecord(recFile, { side: 'source', state: 'sent', wasRunning, target: checked, stats, at: new Date().toISOString() });
        return stats;
      } catch (e) {
        await removeRecord(recFile);
        if (wasRunning) await this.doStart(id, {}).catch(() => undefined);
        throw e;
      } finally {
        await rm(archive, { force: true });
      }
    });
  }

  /** Destination: waits for the verified archive, unpacks it under this lxcpath and starts the container. */
  async migrateFinish(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const recFile = this.incomingRecord(id);
      const rec = await readRecord(recFile);
      if (!rec) {
        // Finished already (the command came again): it must run here.
        const status = await this.inspect(id);
        if (status.state !== 'running') throw new DriverError('Conflict', `container ${id} is here but ${status.state}`);
        return status;
      }
      if (rec.state === 'receiving') {
        const transfer = this.incoming.get(id);
        if (!transfer) throw new DriverError('Fatal', `this agent no longer waits for ${id} (it restarted); abort the migration`);
        ctx.progress?.(10, 'receiving the archive');
        await awaitTransfer(transfer, ctx.signal);
        this.incoming.delete(id);
        const archive = this.archiveOf(id);
        ctx.progress?.(40, 'unpacking');
        await checkArchive(archive, ctx.signal);
        await mkdir(this.lxcPath, { recursive: true, mode: 0o700 });
        const staging = await mkdtemp(join(this.lxcPath, `.staging-${id}-`));
        try {
          await unpackContainer(archive, staging, ctx.signal);
          const meta = await readMeta(staging);
          if (!meta || meta.id !== id) throw new DriverError('Fatal', `the archive for ${id} holds ${meta ? `container ${meta.id}` : `no ${META_FILE}`}`);
          // The config names its own paths (rootfs, logs): written again for this lxcpath.
          await writeInstanceFiles(staging, meta, await this.layout(), this.dirOf(id));
          await writeRecord(recFile, { ...rec, state: 'unpacked', at: new Date().toISOString() });
          await rename(staging, this.dirOf(id));
        } catch (e) {
          await rm(staging, { recursive: true, force: true });
          throw e;
        } finally {
          await rm(archive, { force: true });
        }
      }
      ctx.progress?.(80, 'starting');
      const status = await this.doStart(id, ctx);
      await removeRecord(recFile);
      return status;
    });
  }

  /** Source, after `migrateFinish`: removes the stopped copy. Refuses one that runs or was not sent. */
  async migrateCleanup(id: string): Promise<void> {
    assertInstanceId(id);
    await this.locks.run(id, async () => {
      const dir = this.dirOf(id);
      if (!(await exists(dir))) return; // cleaned up already
      const rec = await readRecord(sourceRecordFile(dir));
      if (rec?.side !== 'source' || rec.state !== 'sent') throw new DriverError('Conflict', `container ${id} was not migrated away from this host; refusing to remove it`);
      const info = await this.tools.info(id);
      if (info && actualState(info.state) !== 'stopped') throw new DriverError('Conflict', `container ${id} runs on this host; refusing to remove it`);
      if (info) await this.tools.destroy(id);
      await rm(dir, { recursive: true, force: true });
    });
  }

  /**
   * Destination: closes the listener and removes the archive and any unpacked copy (refused once
   * `migrateFinish` made it the running one). Source: starts the container again if it ran.
   */
  async migrateAbort(id: string, side: MigrationSide, ctx: DriverContext = {}): Promise<InstanceStatus | undefined> {
    assertInstanceId(id);
    assertMigrationSide(side);
    return this.locks.run(id, async () => {
      if (side === 'destination') {
        const rec = await readRecord(this.incomingRecord(id));
        if (!rec && (await exists(this.dirOf(id)))) throw new DriverError('Conflict', `container ${id} is not an incoming copy here (finished, or never migrated); refusing to remove it`);
        await this.removeIncoming(id);
        return undefined;
      }
      const dir = this.dirOf(id);
      const rec = await readRecord(sourceRecordFile(dir));
      const info = await this.requireInfo(id);
      await removeRecord(sourceRecordFile(dir));
      if (rec?.wasRunning && actualState(info.state) !== 'running') return this.doStart(id, ctx);
      return this.describe(id, info);
    });
  }

  private incomingRecord(id: string): string {
    return join(this.migrationDir, `${assertInstanceId(id)}.json`);
  }

  private archiveOf(id: string): string {
    return join(this.migrationDir, `${assertInstanceId(id)}.tar`);
  }

  /** Everything of an incoming copy: listener, archive, staging, the unpacked container (stopped first), its record. */
  private async removeIncoming(id: string): Promise<void> {
    this.incoming.get(id)?.close();
    this.incoming.delete(id);
    await rm(this.archiveOf(id), { force: true });
    const dir = this.dirOf(id);
    if (await exists(join(dir, 'config'))) {
      const info = await this.tools.info(id).catch(() => undefined);
      if (info && info.state !== 'STOPPED') await this.doStop(id, { force: true });
      if (info) await this.tools.destroy(id).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
    for (const entry of await readdir(this.lxcPath).catch(() => [] as string[])) {
      if (entry.startsWith(`.staging-${id}-`)) await rm(join(this.lxcPath, entry), { recursive: true, force: true });
    }
    await removeRecord(this.incomingRecord(id));
  }

  /** A copy in a migration runs only through the migration's own steps: never two running copies. */
  private async refuseIfMigrating(id: string): Promise<void> {
    const source = await readRecord(sourceRecordFile(this.dirOf(id)));
    if (source) throw new DriverError('Conflict', `container ${id} is being migrated away; abort the migration to run it here`);
    if (await readRecord(this.incomingRecord(id))) throw new DriverError('Conflict', `container ${id} is an incoming migration copy; finish the migration to run it`);
  }

  /** The host's cgroup layout, detected once. */
  /** Closes the listeners of incoming migrations (the agent stops; after a restart their finish fails and the controller aborts them). */
  close(): Promise<void> {
    for (const transfer of this.incoming.values()) transfer.close();
    this.incoming.clear();
    return Promise.resolve();
  }

  layout(): Promise<CgroupLayout> {
    this.layoutOnce ??= detectCgroupLayout();
    return this.layoutOnce;
  }

  /** Capability `console`: the end of the container's console log (lxc.console.logfile). */
  async consoleLog(id: string, opts: { lines: number }): Promise<string[]> {
    const dir = this.dirOf(id);
    if (!(await exists(dir))) throw new DriverError('NotFound', `container ${id} does not exist`);
    return readTailLines(join(dir, CONSOLE_LOG), opts.lines);
  }

  private dirOf(id: string): string {
    return join(this.lxcPath, assertInstanceId(id));
  }

  /** Validates what reaches a command line or a path; returns the bridge to attach to. */
  private checkSpec(spec: InstanceSpec): string | undefined {
    assertInstanceId(spec.id);
    assertSafeName('instance name', spec.name);
    assertSizing(spec.resources, spec.limits);
    const bridge = spec.network?.bridge ?? this.opts.bridge;
    return bridge ? assertBridgeName(bridge) : undefined;
  }

  private async existing(id: string): Promise<{ info: LxcInfo; meta?: LxcInstanceMeta } | undefined> {
    if (!(await exists(join(this.dirOf(id), 'config')))) return undefined;
    const info = await this.states.info(id);
    return info ? { info, meta: await readMeta(this.dirOf(id)) } : undefined;
  }

  /** The container's state and init, from /proc and its cgroup files (lxc-info when they cannot tell). */
  private async requireInfo(id: string): Promise<LxcInfo> {
    const info = (await exists(join(this.dirOf(id), 'config'))) ? await this.states.info(id) : undefined;
    if (!info) throw new DriverError('NotFound', `no lxc container ${id} in ${this.lxcPath}`);
    return info;
  }

  /**
   * Freezes a running container through its freezer file, waiting for the kernel, then tells
   * LXC's monitor (lxc-info, lxc-wait and lxc-unfreeze ask it, not the freezer): through its
   * command socket where this runtime reaches it, else with lxc-freeze, which finds the freezer
   * FROZEN and only tells the monitor. lxc-freeze and lxc-wait alone when the file cannot be written.
   */
  private async freeze(id: string): Promise<void> {
    const direct = await this.states.setFrozen(id, true, FREEZE_TIMEOUT_MS);
    if (direct && (await notifyMonitor(this.lxcPath, id, 'FROZEN'))) return;
    await this.tools.freeze(id);
    if (!direct && !(await this.tools.wait(id, ['FROZEN'], FREEZE_TIMEOUT_MS / 1000))) throw new DriverError('Transient', `${id} did not freeze`);
  }

  /** Thaws a frozen container the same way: the freezer file, then the monitor told, or lxc-unfreeze. */
  private async thaw(id: string): Promise<void> {
    if ((await this.states.setFrozen(id, false, FREEZE_TIMEOUT_MS)) && (await notifyMonitor(this.lxcPath, id, 'THAWED'))) return;
    await this.tools.unfreeze(id);
  }

  /** Builds the container in a staging directory and renames it into place: it appears whole or not at all. */
  private async materialize(meta: LxcInstanceMeta, fillRootfs: (rootfs: string) => Promise<void>): Promise<void> {
    await mkdir(this.lxcPath, { recursive: true, mode: 0o700 });
    const staging = await mkdtemp(join(this.lxcPath, `.staging-${meta.id}-`));
    try {
      await fillRootfs(join(staging, 'rootfs'));
      await writeInstanceFiles(staging, meta, await this.layout(), this.dirOf(meta.id));
      await rename(staging, this.dirOf(meta.id));
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      // Another process created the same instance first: creating is idempotent.
      if (['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) return;
      throw error;
    }
  }

  private async doStart(id: string, ctx: DriverContext): Promise<InstanceStatus> {
    const info = await this.requireInfo(id);
    const state = actualState(info.state);
    if (state === 'suspended') await this.thaw(id);
    if (state === 'stopped') {
      if (info.state === 'STOPPING') await this.tools.wait(id, ['STOPPED'], 30);
      try {
        await this.tools.start(id, ctx.signal);
      } catch (error) {
        throw await this.withLog(id, error);
      }
    }
    // Thawed, or running already: nothing to wait for. Started here or by someone else: LXC says when.
    if ((state === 'stopped' || info.state === 'STARTING') && !(await this.tools.wait(id, ['RUNNING'], 15))) {
      throw await this.withLog(id, new DriverError('Transient', `${id} did not reach RUNNING within 15 s`));
    }
    return this.inspect(id);
  }

  private async doStop(id: string, opts: StopOptions): Promise<InstanceStatus> {
    const info = await this.requireInfo(id);
    if (info.state === 'STOPPED') return this.describe(id, info);
    // A frozen init cannot take the halt signal (nor die of SIGKILL under the v1 freezer).
    if (actualState(info.state) === 'suspended') await this.thaw(id);
    if (opts.force) {
      await this.tools.kill(id);
    } else {
      const timeoutS = Math.min(600, Math.max(1, Math.round(opts.timeoutS ?? 10)));
      // lxc-stop -t sends the halt signal and kills the container itself once the time is up.
      await this.tools.stop(id, timeoutS).catch(() => this.tools.kill(id));
    }
    if (!(await this.tools.wait(id, ['STOPPED'], 5))) {
      await this.tools.kill(id);
      if (!(await this.tools.wait(id, ['STOPPED'], 15))) throw new DriverError('Transient', `${id} did not stop`);
    }
    return this.inspect(id);
  }

  /** Reads the real state and limits: from the cgroup when it runs, from its config when not. */
  private async describe(id: string, info: LxcInfo): Promise<InstanceStatus> {
    const dir = this.dirOf(id);
    const layout = await this.layout();
    const meta = await readMeta(dir);
    const state = actualState(info.state);
    let values = new Map<string, string>();
    if (state !== 'stopped') {
      // Straight from the cgroup files; lxc-cgroup (a process per key) only when they are not found.
      const direct = await this.states.cgroupValues(id, readbackKeys(layout));
      if (direct) values = direct;
      else {
        const read = await Promise.all(readbackKeys(layout).map(async (key) => [key, await this.tools.cgroupGet(id, key)] as const));
        for (const [key, value] of read) if (value !== undefined) values.set(key, value);
      }
    } else {
      values = cgroupValuesFromConfig(await readFile(join(dir, 'config'), 'utf8').catch(() => ''), layout);
    }
    const readback = interpretLimits(layout, values, hostTotals(), { explicitCap: meta?.limits?.cpuCapPercent !== undefined });
    return {
      id,
      state,
      technology: 'container',
      // Disk is the size asked for, not a limit: a dir backing store is a plain directory on the
      // host filesystem and nothing caps it (a loop, LVM or ZFS store would; see details.diskLimit).
      resources: { ...readback.resources, diskGiB: meta?.resources.diskGiB ?? 0 },
      limits: readback.limits,
      details: {
        name: meta?.name,
        pid: info.pid,
        lxcState: info.state,
        lxcPath: this.lxcPath,
        rootfs: join(dir, 'rootfs'),
        consoleLog: join(dir, CONSOLE_LOG),
        lxcLog: join(dir, LXC_LOG),
        template: meta?.templateKey,
        clonedFrom: meta?.clonedFrom,
        cgroup: layout.version,
        limitsSource: state === 'stopped' ? 'config' : 'cgroup',
        memoryUsageBytes: readback.memoryUsageBytes,
        diskLimit: DISK_LIMIT_NOTE,
        unenforced: meta ? planLimits(layout, meta.resources, meta.limits).unenforced : [],
      },
    };
  }

  /**
   * lxc-snapshot refuses a running container, so a running (or suspended) one is frozen and copied
   * into the next snapN of its snaps directory with the files lxc-snapshot would add (ts, comment):
   * LXC lists, restores and deletes it like any of its own. Restoring it boots the copied rootfs.
   */
  private async snapshotLive(id: string, snapshot: string, freeze: boolean): Promise<void> {
    const snapDir = join(this.dirOf(id), 'snaps');
    await mkdir(snapDir, { recursive: true, mode: 0o755 });
    const taken = new Set(await readdir(snapDir));
    let index = 0;
    while (taken.has(`snap${index}`)) index++;
    const lxcName = `snap${index}`;
    if (freeze) await this.freeze(id);
    try {
      await this.tools.copyAsSnapshot(id, snapDir, lxcName);
    } catch (error) {
      await rm(join(snapDir, lxcName), { recursive: true, force: true });
      throw error;
    } finally {
      if (freeze) await this.thaw(id);
    }
    // lxc-snapshot's timestamp (local time, no newline) and comment files.
    const p2 = (n: number) => String(n).padStart(2, '0');
    const now = new Date();
    const ts = `${now.getFullYear()}:${p2(now.getMonth() + 1)}:${p2(now.getDate())} ${p2(now.getHours())}:${p2(now.getMinutes())}:${p2(now.getSeconds())}`;
    await writeFile(join(snapDir, lxcName, 'ts'), ts);
    await writeFile(join(snapDir, lxcName, 'comment'), `${snapshot}\n`);
  }

  private async findSnapshot(id: string, snapshot: string): Promise<LxcSnapshotEntry | undefined> {
    return (await this.tools.snapshotList(id)).find((s) => snapshotName(s) === snapshot);
  }

  private async withLog(id: string, error: unknown): Promise<DriverError> {
    const log = await readFile(join(this.dirOf(id), LXC_LOG), 'utf8').catch(() => '');
    const tail = log.trim().split('\n').slice(-10).join('\n');
    const message = error instanceof Error ? error.message : String(error);
    const code = DriverError.is(error) ? error.code : 'Fatal';
    return new DriverError(code, tail ? `${message}\n${LXC_LOG}:\n${tail}` : message);
  }
}

export function createLxcDriver(opts: DriverOptions): Driver {
  return new LxcDriver(opts);
}
