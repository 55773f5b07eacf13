import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Arch, BUILTIN_TEMPLATES, DriverProbe, Resources, TemplateSpec } from '@hyperplane/domain';
import { Driver, DriverContext, InstanceLimits, InstanceObservation, InstanceSpec, InstanceStatus, MigrationReceiveOptions, MigrationSide, MigrationStats, MigrationTarget, SnapshotInfo, StopOptions } from '../driver';
import { assertMigrationSide, assertMigrationTarget, assertReceiveOptions, freePort, MigrationNetOptions, resolveMigrationNet } from '../migration';
import { DriverError } from '../driver.exception';
import { DriverOptions } from '../driver-options';
import { runCommand } from '../exec/run-command';
import { exists } from '../lxc/lxc-host';
import { assertInstanceId } from '../validate';
import { Accelerator, buildQemuArgs, chooseAccelerator, qemuSystemBinary } from './qemu-args';
import { fileSize, readTail, readTailLines, waitForConsoleMarker } from './qemu-console';
import { checkKvm, isInstanceProcess, readPid, throwIfAborted } from './qemu-host';
import { GiB, QemuImg } from './qemu-img';
import { assertWithinImageDir, readQemuImageRef, resolveImage, resolveImageDir } from './qemu-images';
import { probeQemu } from './qemu-probe';
import { QemuRuntime, isRunningStatus } from './qemu-runtime';
import { dropMigrationTls, removeDestinationTls } from './qemu-migration-tls';
import { awaitIncoming, cancelMigration, clearMigration, listenIncoming, queryMigrate, readMigration, sendLive, SendTuning, writeMigration } from './qemu-migration';
import { QemuSnapshots } from './qemu-snapshots';
import { sameSpec, validateResources, validateVmSpec } from './qemu-spec';
import { InstanceRecord, InstanceStore, KeyedMutex } from './qemu-state';

export interface QemuDriverOptions extends DriverOptions {
  /** Where template images live (default: `resolveImageDir()`). */
  imageDir?: string;
  /** The `qemu-system-*` binary for the host's architecture (default: found on PATH). */
  qemuBinary?: string;
  qemuImgBinary?: string;
  /** Forces an accelerator instead of detecting one. */
  accelerator?: Accelerator;
  /** How long start and restart wait for a template's readyMarker (default 120 s). */
  bootTimeoutMs?: number;
  /** The templates the offer may list: those whose image is under imageDir (default: the catalogue). */
  templates?: readonly TemplateSpec[];
  /** Live migration: where this host listens as a destination, and how the source sends. */
  migration?: MigrationNetOptions & SendTuning;
}

const QMP_TIMEOUT_MS = 5_000;
const DEFAULT_STOP_TIMEOUT_S = 30;

export interface AcceleratorChoice {
  accelerator: Accelerator;
  reason: string;
}

/** Runs VMs with QEMU: one daemonized `qemu-system-<arch>` per instance, managed over QMP. */
export class QemuDriver implements Driver {
  readonly name = 'qemu' as const;
  readonly imageDir: string;
  private readonly store: InstanceStore;
  private readonly runtime: QemuRuntime;
  private readonly qemuImg: QemuImg;
  private readonly snapshots: QemuSnapshots;
  private readonly locks = new KeyedMutex();
  private readonly accelerators = new Map<Arch, AcceleratorChoice>();

  constructor(private readonly opts: QemuDriverOptions) {
    this.imageDir = opts.imageDir ?? resolveImageDir();
    this.store = new InstanceStore(join(opts.stateDir, 'qemu'));
    this.runtime = new QemuRuntime(this.store, QMP_TIMEOUT_MS);
    this.qemuImg = new QemuImg(opts.qemuImgBinary ?? 'qemu-img');
    this.snapshots = new QemuSnapshots(this.store, this.runtime, this.qemuImg);
  }

  async probe(): Promise<DriverProbe> {
    const { hostOs, hostArch } = this.opts;
    return probeQemu({
      hostOs,
      hostArch,
      binary: this.binaryFor(hostArch),
      qemuImg: this.qemuImg,
      accelerator: this.acceleratorFor(hostArch).accelerator,
      distributions: await this.creatableDistributions(),
      imageDir: this.imageDir,
    });
  }

  /** Distributions and versions of the templates whose image really is under imageDir: only those are offered. */
  private async creatableDistributions(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const t of this.opts.templates ?? BUILTIN_TEMPLATES) {
      if (!t.technologies.includes('vm') || !t.image?.qemu) continue;
      try {
        await resolveImage(this.imageDir, readQemuImageRef(t));
      } catch {
        continue; // not here: the scheduler must not choose this host for it
      }
      const versions = (out[t.distribution] ??= []);
      if (!versions.includes(t.version)) versions.push(t.version);
    }
    return out;
  }

  /** KVM/HVF/WHPX for the host's own architecture where usable, else TCG; decided once per arch. */
  acceleratorFor(arch: Arch): AcceleratorChoice {
    let choice = this.accelerators.get(arch);
    if (!choice) {
      if (this.opts.accelerator) {
        choice = { accelerator: this.opts.accelerator, reason: 'configured' };
      } else {
        const kvm = this.opts.hostOs === 'linux' ? checkKvm(this.opts.hostArch) : { usable: false, reason: 'not Linux' };
        const accelerator = chooseAccelerator({ hostOs: this.opts.hostOs, hostArch: this.opts.hostArch, guestArch: arch, kvmUsable: kvm.usable });
        choice = { accelerator, reason: arch !== this.opts.hostArch ? `emulating ${arch}` : kvm.reason };
      }
      this.accelerators.set(arch, choice);
    }
    return choice;
  }

  async create(spec: InstanceSpec, ctx: DriverContext = {}): Promise<InstanceStatus> {
    validateVmSpec(spec, this.store.paths(spec.id).qmp);
    return this.locks.run(spec.id, () => this.createLocked(spec, ctx));
  }

  private async createLocked(spec: InstanceSpec, ctx: DriverContext): Promise<InstanceStatus> {
    const existing = await this.store.find(spec.id);
    if (existing) {
      if (!sameSpec(existing.spec, spec)) throw new DriverError('Conflict', `qemu instance ${spec.id} exists with another spec`);
      return this.describe(spec.id, existing);
    }
    const image = await resolveImage(this.imageDir, readQemuImageRef(spec.template));
    ctx.progress?.(10, 'preparing the disk');
    const scratch = await this.store.scratch(spec.id);
    try {
      const overlay = this.store.paths(spec.id, scratch).overlay;
      const wanted = spec.resources.diskGiB * GiB;
      const rec: InstanceRecord = { version: 1, spec, createdAt: new Date().toISOString(), diskBytes: wanted };
      if (image.disk) {
        const base = await this.checkedBase(image.disk, ctx.signal);
        rec.base = { path: image.disk, format: base.format };
        rec.diskBytes = Math.max(wanted, base.virtualSize); // an overlay cannot be smaller than its base
        await this.qemuImg.createOverlay(overlay, rec.base, rec.diskBytes, ctx.signal);
      } else {
        await this.qemuImg.createBlank(overlay, rec.diskBytes, ctx.signal);
      }
      await this.store.save(spec.id, rec, scratch);
      await this.store.commit(scratch, spec.id);
      ctx.progress?.(100, 'created');
      return this.describe(spec.id, rec);
    } catch (e) {
      await this.store.discard(scratch);
      throw e;
    }
  }

  async start(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, () => this.startLocked(id, ctx));
  }

  async stop(id: string, opts: StopOptions = {}, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const rec = await this.store.get(id);
      await this.stopLocked(id, opts.force ? 0 : (opts.timeoutS ?? DEFAULT_STOP_TIMEOUT_S) * 1000, ctx);
      return this.describe(id, rec);
    });
  }

  async restart(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const rec = await this.store.get(id);
      await this.refuseIfMigrating(id);
      const pid = await this.runtime.livePid(id);
      if (pid === undefined) return this.startLocked(id, ctx);
      const consoleFrom = await fileSize(this.store.paths(id).console);
      await this.runtime.withQmp(id, async (qmp) => {
        await qmp.execute('system_reset');
        const { status } = await qmp.execute<{ status: string }>('query-status');
        if (!isRunningStatus(status)) await qmp.execute('cont');
      });
      await this.markPaused(id, false);
      await this.waitUntilBooted(id, rec, pid, consoleFrom, ctx);
      return this.describe(id, rec);
    });
  }

  async suspend(id: string): Promise<InstanceStatus> {
    return this.setPaused(id, true);
  }

  async resume(id: string): Promise<InstanceStatus> {
    return this.setPaused(id, false);
  }

  async destroy(id: string, ctx: DriverContext = {}): Promise<void> {
    assertInstanceId(id);
    await this.locks.run(id, async () => {
      const pid = await this.runtime.livePid(id);
      // A directory without a live VM is still something to remove; nothing at all is NotFound.
      if (pid === undefined && !(await exists(this.store.paths(id).dir))) throw new DriverError('NotFound', `qemu instance ${id} does not exist`);
      if (pid !== undefined) {
        await this.markStopping(id);
        await this.runtime.terminate(id, pid, { graceMs: 0, signal: ctx.signal });
      }
      await this.store.remove(id);
    });
  }

  async inspect(id: string): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.describe(id, await this.store.get(id));
  }

  async list(): Promise<InstanceStatus[]> {
    const out: InstanceStatus[] = [];
    for (const id of await this.store.ids()) {
      const rec = await this.store.find(id).catch(() => undefined);
      if (rec) out.push(await this.describe(id, rec));
    }
    return out;
  }

  /** Every VM's state: its process in /proc and one QMP `query-status` over its socket, a few VMs at once. */
  async observe(): Promise<InstanceObservation[]> {
    const ids = await this.store.ids();
    const out = new Array<InstanceObservation | undefined>(ids.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(8, ids.length) }, async () => {
        for (let i = next++; i < ids.length; i = next++) {
          const id = ids[i]!;
          if (await this.store.find(id).catch(() => undefined)) out[i] = await this.runtime.observe(id);
        }
      }),
    );
    return out.filter((o): o is InstanceObservation => o !== undefined);
  }

  async snapshotCreate(id: string, snapshot: string, ctx: DriverContext = {}): Promise<SnapshotInfo> {
    assertInstanceId(id);
    return this.locks.run(id, () => this.snapshots.create(id, snapshot, ctx.signal));
  }

  async snapshotList(id: string): Promise<SnapshotInfo[]> {
    assertInstanceId(id);
    return (await this.snapshots.list(id)).map((s) => ({ name: s.name, createdAt: s.createdAt }));
  }

  async snapshotRestore(id: string, snapshot: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      await this.snapshots.restore(id, snapshot, ctx.signal);
      return this.describe(id, await this.store.get(id));
    });
  }

  async snapshotDelete(id: string, snapshot: string, ctx: DriverContext = {}): Promise<void> {
    assertInstanceId(id);
    await this.locks.run(id, () => this.snapshots.delete(id, snapshot, ctx.signal));
  }

  /** A stopped copy of a stopped instance: its disk (without snapshots) under the new spec's id, name and resources. */
  async clone(sourceId: string, spec: InstanceSpec, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(sourceId);
    validateVmSpec(spec, this.store.paths(spec.id).qmp);
    if (sourceId === spec.id) throw new DriverError('InvalidArgument', 'a clone needs a new id');
    return this.locks.run(sourceId, () =>
      this.locks.run(spec.id, async () => {
        const src = await this.store.get(sourceId);
        const wantedSpec: InstanceSpec = { ...spec, template: src.spec.template };
        const existing = await this.store.find(spec.id);
        if (existing) {
          if (!sameSpec(existing.spec, wantedSpec)) throw new DriverError('Conflict', `qemu instance ${spec.id} exists with another spec`);
          return this.describe(spec.id, existing);
        }
        if ((await this.runtime.livePid(sourceId)) !== undefined) {
          throw new DriverError('Conflict', `stop ${sourceId} before cloning it: a running disk cannot be copied consistently`);
        }
        const scratch = await this.store.scratch(spec.id);
        try {
          const overlay = this.store.paths(spec.id, scratch).overlay;
          ctx.progress?.(10, 'copying the disk');
          await this.qemuImg.copy(this.store.paths(sourceId).overlay, overlay, src.base, ctx.signal);
          const diskBytes = Math.max(src.diskBytes, spec.resources.diskGiB * GiB);
          if (diskBytes > src.diskBytes) await this.qemuImg.grow(overlay, diskBytes, ctx.signal);
          const rec: InstanceRecord = { version: 1, spec: wantedSpec, createdAt: new Date().toISOString(), base: src.base, diskBytes };
          await this.store.save(spec.id, rec, scratch);
          await this.store.commit(scratch, spec.id);
          return this.describe(spec.id, rec);
        } catch (e) {
          await this.store.discard(scratch);
          throw e;
        }
      }),
    );
  }

  /**
   * Offline resize: memory and vCPUs are rewritten in the saved spec and take effect at the next
   * start; the disk can only grow. A running VM is refused (no `liveResize`). Limits are kept in
   * the spec but QEMU does not enforce them (that would take cgroups around the process).
   */
  async resize(id: string, resources: Resources, limits?: InstanceLimits, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    validateResources(resources);
    return this.locks.run(id, async () => {
      const rec = await this.store.get(id);
      if ((await this.runtime.livePid(id)) !== undefined) {
        // Not declared (no liveResize): refused as Unsupported, like every undeclared capability.
        throw new DriverError('Unsupported', `stop ${id} before resizing it: the qemu driver resizes only stopped VMs`);
      }
      if (resources.diskGiB !== rec.spec.resources.diskGiB) {
        const bytes = resources.diskGiB * GiB;
        if (bytes < rec.diskBytes) throw new DriverError('InvalidArgument', `the disk of ${id} can grow but not shrink`);
        if (bytes > rec.diskBytes) await this.qemuImg.grow(this.store.paths(id).overlay, bytes, ctx.signal);
        rec.diskBytes = Math.max(bytes, rec.diskBytes);
      }
      rec.spec = { ...rec.spec, resources: { ...resources }, ...(limits ? { limits } : {}) };
      await this.store.save(id, rec);
      return this.describe(id, rec);
    });
  }

  /**
   * Destination of a live migration: the instance's directory with an empty overlay over the
   * same base image, and QEMU started with the same machine and `-incoming defer`, listening for
   * the stream and serving its disk over NBD for the source's mirror. Idempotent: an incoming
   * copy already waiting answers with the same target.
   */
  async migrateReceive(spec: InstanceSpec, opts: MigrationReceiveOptions, ctx: DriverContext = {}): Promise<MigrationTarget> {
    validateVmSpec(spec, this.store.paths(spec.id).qmp);
    const { mode } = assertReceiveOptions(opts);
    if (mode !== 'live') throw new DriverError('Unsupported', 'the qemu driver migrates running VMs live only');
    const net = resolveMigrationNet(this.opts.migration);
    return this.locks.run(spec.id, async () => {
      const dir = this.store.paths(spec.id).dir;
      const existing = await this.store.find(spec.id);
      if (existing) {
        const mig = await readMigration(dir);
        if (mig?.side === 'destination' && mig.target && (await this.runtime.livePid(spec.id)) !== undefined) return mig.target;
        if (mig?.side !== 'destination') throw new DriverError('Conflict', `qemu instance ${spec.id} already exists on this host`);
        await this.removeIncoming(spec.id); // a half-prepared copy: start over
      }
      await this.createLocked(spec, {});
      try {
        await writeMigration(dir, { side: 'destination', state: 'incoming', at: new Date().toISOString() });
        throwIfAborted(ctx.signal);
        ctx.progress?.(30, 'starting QEMU for the incoming VM');
        let pid = await this.launch(spec.id, await this.store.get(spec.id), ['-incoming', 'defer'], ctx);
        // This migration's own key for TLS on both ports; it reaches the source only through the controller.
        const token = randomBytes(32).toString('hex');
        // A port found free may be taken before QEMU binds it: try a few.
        for (let attempt = 1; ; attempt++) {
          const port = await freePort(net.listenHost);
          const diskPort = await freePort(net.listenHost);
          try {
            await this.runtime.withQmp(spec.id, (qmp) => listenIncoming(qmp, dir, token, net.listenHost, port, diskPort));
            const target: MigrationTarget = { mode: 'live', host: net.advertiseHost, port, diskPort, token };
            await writeMigration(dir, { side: 'destination', state: 'incoming', target, at: new Date().toISOString() });
            ctx.progress?.(100, `QEMU ${pid} waiting for the source`);
            return target;
          } catch (e) {
            if (attempt >= 3) throw e;
            // QEMU keeps a failed listener's state: start a fresh process for the next try.
            await this.killQuietly(spec.id);
            pid = await this.launch(spec.id, await this.store.get(spec.id), ['-incoming', 'defer'], ctx);
          }
        }
      } catch (e) {
        await this.removeIncoming(spec.id);
        throw e;
      }
    });
  }

  /**
   * Source of a live migration: mirrors the disk into the destination's NBD export, migrates RAM
   * and devices, and leaves this QEMU paused (`postmigrate`) with everything intact until
   * `migrateCleanup`. On failure or abort the guest runs on here.
   */
  async migrateSend(id: string, target: MigrationTarget, ctx: DriverContext = {}): Promise<MigrationStats> {
    assertInstanceId(id);
    const checked = assertMigrationTarget(target, { mode: 'live', needDiskPort: true, needToken: true });
    return this.locks.run(id, async () => {
      await this.store.get(id);
      const dir = this.store.paths(id).dir;
      const mig = await readMigration(dir);
      if (mig?.side === 'destination') throw new DriverError('Conflict', `qemu instance ${id} is an incoming copy here, not a source`);
      if ((await this.runtime.livePid(id)) === undefined) throw new DriverError('Conflict', `qemu instance ${id} is not running: a live migration needs it running`);
      if (mig?.state === 'sent' && mig.stats) {
        const { status } = await this.runtime.withQmp(id, (qmp) => qmp.execute<{ status: string }>('query-status'));
        if (status === 'postmigrate') return mig.stats; // sent already (the command came again)
      }
      // The key stays out of the record: QEMU holds it for as long as the send needs it.
      const { token: _key, ...where } = checked;
      void _key;
      await writeMigration(dir, { side: 'source', state: 'sending', target: where, at: new Date().toISOString() });
      // One QMP session for the whole send (QMP serves one client at a time; long commands get their own timeouts).
      const stats = await this.runtime
        .withQmp(id, (qmp) => sendLive(qmp, dir, checked, ctx, this.opts.migration), { commandTimeoutMs: 30_000 })
        .catch(async (e: unknown) => {
          await clearMigration(dir);
          throw e;
        });
      await writeMigration(dir, { side: 'source', state: 'sent', target: where, stats, at: new Date().toISOString() });
      return stats;
    });
  }

  /** Destination: waits until the stream is complete, stops the NBD server and makes sure the guest runs. */
  async migrateFinish(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const rec = await this.store.get(id);
      const dir = this.store.paths(id).dir;
      const mig = await readMigration(dir);
      if (!mig) {
        // Finished already (the command came again): it must run here.
        const status = await this.describe(id, rec);
        if (status.state !== 'running') throw new DriverError('Conflict', `qemu instance ${id} is here but ${status.state}`);
        return status;
      }
      if (mig.side !== 'destination') throw new DriverError('Conflict', `qemu instance ${id} is a migration source here`);
      if ((await this.runtime.livePid(id)) === undefined) throw new DriverError('Fatal', `the incoming QEMU of ${id} is gone`);
      ctx.progress?.(50, 'waiting for the end of the stream');
      await this.runtime.withQmp(id, async (qmp) => {
        await awaitIncoming(qmp, 120_000, ctx.signal);
        await qmp.execute('nbd-server-stop').catch(() => undefined);
        await dropMigrationTls(qmp);
        const { status } = await qmp.execute<{ status: string }>('query-status');
        if (!isRunningStatus(status)) await qmp.execute('cont');
      });
      await removeDestinationTls(dir);
      await this.markPaused(id, false);
      await clearMigration(dir);
      return this.describe(id, rec);
    });
  }

  /** Source, after `migrateFinish`: ends the paused QEMU and removes the copy. Refuses while it runs. */
  async migrateCleanup(id: string): Promise<void> {
    assertInstanceId(id);
    await this.locks.run(id, async () => {
      const dir = this.store.paths(id).dir;
      if (!(await this.store.find(id))) return; // cleaned up already
      const mig = await readMigration(dir);
      if (mig?.side !== 'source' || mig.state !== 'sent') throw new DriverError('Conflict', `qemu instance ${id} was not migrated away from this host; refusing to remove it`);
      const pid = await this.runtime.livePid(id);
      if (pid !== undefined) {
        const { status } = await this.runtime.withQmp(id, (qmp) => qmp.execute<{ status: string }>('query-status'));
        if (isRunningStatus(status)) throw new DriverError('Conflict', `qemu instance ${id} runs on this host; refusing to remove it`);
        await this.markStopping(id);
        await this.runtime.terminate(id, pid, { graceMs: 0 });
      }
      await this.store.remove(id);
    });
  }

  /**
   * Destination: kills the incoming QEMU and removes its copy (refused once `migrateFinish` made
   * it the running one). Source: cancels a send in progress, or resumes a guest already handed
   * over (`cont` re-activates its disk), or starts it again if its QEMU died.
   */
  async migrateAbort(id: string, side: MigrationSide, ctx: DriverContext = {}): Promise<InstanceStatus | undefined> {
    assertInstanceId(id);
    assertMigrationSide(side);
    return this.locks.run(id, async () => {
      const rec = await this.store.find(id);
      const dir = this.store.paths(id).dir;
      const mig = rec ? await readMigration(dir) : undefined;
      if (side === 'destination') {
        if (!rec) {
          await this.store.remove(id); // a scratch directory at most
          return undefined;
        }
        if (mig?.side !== 'destination') throw new DriverError('Conflict', `qemu instance ${id} is not an incoming copy here (finished, or never migrated); refusing to remove it`);
        await this.removeIncoming(id);
        return undefined;
      }
      if (!rec) throw new DriverError('NotFound', `qemu instance ${id} does not exist on the source`);
      if (mig?.side === 'destination') throw new DriverError('Conflict', `qemu instance ${id} is an incoming copy here, not the source`);
      const pid = await this.runtime.livePid(id);
      if (pid === undefined) {
        await clearMigration(dir);
        return this.startLocked(id, ctx);
      }
      await this.runtime.withQmp(id, async (qmp) => {
        const q = await queryMigrate(qmp);
        if (q.status && q.status !== 'completed') await cancelMigration(qmp);
        const { status } = await qmp.execute<{ status: string }>('query-status');
        if (!isRunningStatus(status) && !(await this.store.readRuntime(id))?.paused) await qmp.execute('cont');
      });
      await clearMigration(dir);
      return this.describe(id, rec);
    });
  }

  /** Waits until `marker` appears on the instance's serial console (this boot or an earlier one). */
  async waitForConsole(id: string, marker: string, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    assertInstanceId(id);
    await this.store.get(id);
    return waitForConsoleMarker({
      path: this.store.paths(id).console,
      marker,
      timeoutMs,
      signal,
      isAlive: async () => (await this.runtime.livePid(id)) !== undefined,
    });
  }

  /** The end of the serial console log (capability `console`). */
  async readConsole(id: string, maxBytes = 16 * 1024): Promise<string> {
    assertInstanceId(id);
    await this.store.get(id);
    return readTail(this.store.paths(id).console, maxBytes);
  }

  /** Capability `console`: the last lines of the serial console log. */
  async consoleLog(id: string, opts: { lines: number }): Promise<string[]> {
    assertInstanceId(id);
    await this.store.get(id);
    return readTailLines(this.store.paths(id).console, opts.lines);
  }

  private describe(id: string, rec: InstanceRecord): Promise<InstanceStatus> {
    return this.runtime.describe(id, rec, this.acceleratorFor(rec.spec.arch).accelerator);
  }

  private binaryFor(arch: Arch): string {
    return arch === this.opts.hostArch && this.opts.qemuBinary ? this.opts.qemuBinary : qemuSystemBinary(arch);
  }

  /** The base image and its whole backing chain must lie in the image directory. */
  private async checkedBase(disk: string, signal?: AbortSignal) {
    const chain = await this.qemuImg.chain(disk, signal);
    for (const img of chain.slice(1)) await assertWithinImageDir(this.imageDir, img.filename, `backing file of ${disk}`);
    const base = chain[0];
    if (!base) throw new DriverError('Fatal', `qemu-img could not read ${disk}`);
    return base;
  }

  /** Starts QEMU for a saved instance (daemonized) with `extra` arguments; returns its pid. */
  private async launch(id: string, rec: InstanceRecord, extra: string[], ctx: DriverContext): Promise<number> {
    const paths = this.store.paths(id);
    const { spec } = rec;
    const image = await resolveImage(this.imageDir, readQemuImageRef(spec.template));
    const { accelerator } = this.acceleratorFor(spec.arch);
    const binary = this.binaryFor(spec.arch);
    const args = buildQemuArgs({
      id,
      name: spec.name,
      arch: spec.arch,
      hostOs: this.opts.hostOs,
      accelerator,
      memoryMiB: spec.resources.memoryMiB,
      vcpus: spec.resources.vcpus,
      paths: { overlay: paths.overlay, console: paths.console, qmp: paths.qmp, pidfile: paths.pidfile },
      boot: { kernel: image.kernel, initrd: image.initrd, append: image.append, firmware: image.firmware },
      network: spec.network,
    });
    ctx.progress?.(10, `starting QEMU (${accelerator})`);
    // -daemonize: the command returns once the VM is set up and the pidfile written.
    await runCommand(binary, [...args, ...extra], { timeoutMs: 60_000, signal: ctx.signal });
    const newPid = readPid(await readFile(paths.pidfile, 'utf8').catch(() => ''));
    if (newPid === undefined || !(await isInstanceProcess(newPid, id))) {
      const tail = await readTail(paths.console);
      await this.store.clearRun(id);
      throw new DriverError('Fatal', `QEMU for ${id} exited right after starting`, { consoleTail: tail });
    }
    await this.store.writeRuntime(id, { pid: newPid, startedAt: new Date().toISOString(), accelerator, binary });
    return newPid;
  }

  private async killQuietly(id: string): Promise<void> {
    const pid = await this.runtime.livePid(id);
    if (pid === undefined) return;
    await this.markStopping(id);
    await this.runtime.terminate(id, pid, { graceMs: 0 });
    await this.store.clearRun(id);
  }

  /** An incoming copy away: its QEMU killed, its directory removed. */
  private async removeIncoming(id: string): Promise<void> {
    await this.killQuietly(id);
    await this.store.remove(id);
  }

  /** A copy in a migration runs only through the migration's own steps: never two running copies. */
  private async refuseIfMigrating(id: string): Promise<void> {
    const mig = await readMigration(this.store.paths(id).dir);
    if (!mig) return;
    throw new DriverError(
      'Conflict',
      mig.side === 'source' ? `qemu instance ${id} is being migrated away; abort the migration to run it here` : `qemu instance ${id} is an incoming migration copy; finish the migration to run it`,
    );
  }

  private async startLocked(id: string, ctx: DriverContext): Promise<InstanceStatus> {
    const rec = await this.store.get(id);
    await this.refuseIfMigrating(id);
    const pid = await this.runtime.livePid(id);
    if (pid !== undefined) {
      // Already up; a suspended VM is resumed, since start means "make it run".
      await this.runtime.withQmp(id, async (qmp) => {
        const { status } = await qmp.execute<{ status: string }>('query-status');
        if (!isRunningStatus(status)) await qmp.execute('cont');
      });
      await this.markPaused(id, false);
      return this.describe(id, rec);
    }
    await this.runtime.reconcile(id);
    await this.store.clearRun(id, { exit: true });
    throwIfAborted(ctx.signal);
    const newPid = await this.launch(id, rec, [], ctx);
    try {
      await this.waitUntilBooted(id, rec, newPid, 0, ctx);
    } catch (e) {
      await this.stopLocked(id, 0, {});
      throw e;
    }
    return this.describe(id, rec);
  }

  private async waitUntilBooted(id: string, rec: InstanceRecord, pid: number, fromOffset: number, ctx: DriverContext): Promise<void> {
    const marker = readQemuImageRef(rec.spec.template).readyMarker;
    if (!marker) return;
    ctx.progress?.(50, 'waiting for the guest to boot');
    await waitForConsoleMarker({
      path: this.store.paths(id).console,
      marker,
      fromOffset,
      timeoutMs: this.opts.bootTimeoutMs ?? 120_000,
      signal: ctx.signal,
      isAlive: () => isInstanceProcess(pid, id),
    });
  }

  private async stopLocked(id: string, graceMs: number, ctx: DriverContext): Promise<void> {
    const pid = await this.runtime.livePid(id);
    if (pid === undefined) {
      await this.runtime.reconcile(id);
      return;
    }
    await this.markStopping(id);
    ctx.progress?.(10, graceMs > 0 ? 'powering off' : 'quitting');
    await this.runtime.terminate(id, pid, { graceMs, signal: ctx.signal });
    await this.store.clearRun(id);
  }

  private async setPaused(id: string, paused: boolean): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const rec = await this.store.get(id);
      if (!paused) await this.refuseIfMigrating(id);
      if ((await this.runtime.livePid(id)) === undefined) {
        await this.runtime.reconcile(id);
        throw new DriverError('Conflict', `qemu instance ${id} is not running`);
      }
      await this.runtime.withQmp(id, async (qmp) => {
        const { status } = await qmp.execute<{ status: string }>('query-status');
        if (paused && isRunningStatus(status)) await qmp.execute('stop');
        if (!paused && !isRunningStatus(status)) await qmp.execute('cont');
      });
      await this.markPaused(id, paused);
      return this.describe(id, rec);
    });
  }

  private async markPaused(id: string, paused: boolean): Promise<void> {
    const rt = await this.store.readRuntime(id);
    if (rt && rt.paused !== paused) await this.store.writeRuntime(id, { ...rt, paused });
  }

  private async markStopping(id: string): Promise<void> {
    const rt = await this.store.readRuntime(id);
    if (rt) await this.store.writeRuntime(id, { ...rt, stopping: true });
  }
}

export function createQemuDriver(opts: DriverOptions): Driver {
  return new QemuDriver(opts);
}
