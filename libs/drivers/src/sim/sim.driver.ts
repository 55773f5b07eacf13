import { appendFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DriverOffer,
  DriverProbe,
  MIN_CONTAINER_VCPUS,
  Resources,
  Technology,
  WindowsIsolation,
  addResources,
  isWholeMilliVcpus,
  needsHypervIsolation,
  windowsBuildNumber,
  windowsContainerIsolation,
  ZERO_RESOURCES,
} from '@hyperplane/domain';
import {
  ActualState,
  Driver,
  DriverContext,
  InstanceLimits,
  InstanceSpec,
  InstanceStatus,
  MigrationReceiveOptions,
  MigrationSide,
  MigrationStats,
  MigrationTarget,
  SnapshotInfo,
  StopOptions,
} from '../driver';
import { assertMigrationSide, assertMigrationTarget, assertReceiveOptions } from '../migration';
import { awaitTransfer, IncomingTransfer, receiveFile, sendFile } from '../transfer/archive-transfer';
import { DriverError } from '../driver.exception';
import { DriverOptions } from '../driver-options';
import { assertInstanceId, assertSafeName } from '../validate';
import { DEFAULT_SIM_TIMINGS, SimCommand, SimTimings, simOffers } from './sim-profile';
import { hashSeed, sampleLogNormal, seededRandom } from './sim-random';

/**
 * Probability of an injected failure, per command: `{ create: { transient: 0.02 } }`.
 * `unavailable` is a host-specific failure (as a host lacking a template's image answers).
 */
export type SimFaults = Partial<Record<SimCommand, { transient?: number; fatal?: number; unavailable?: number }>>;

export interface SimDriverOptions extends DriverOptions {
  /** Names the simulated host; its state file and its random stream derive from it. */
  hostKey: string;
  /** The simulated host's size; creates beyond it (with generous overcommit) are refused. */
  capacity: Resources;
  /** Multiplies every duration: 0 = instant, 0.01 for tests. */
  timeScale?: number;
  timings?: SimTimings;
  faults?: SimFaults;
  seed?: number;
  /** Keep state in `<stateDir>/sim-<hostKey>.json` so it survives an agent restart (default true). */
  persist?: boolean;
  /** The simulated host's kernel as it reports it (a Windows host's build, 10.0.17763). */
  hostKernel?: string;
  /**
   * Tests only (chaos suite): a file to which every applied effect is appended as a JSON line
   * `{ h, id, c, t }` once it is saved, and every command refused for a missing instance as
   * `{ ..., miss: true }`, and an effect on an instance destroyed meanwhile as `{ ..., gone: true }`. It survives a kill -9 of the agent, as the counts in `effects` do not.
   */
  journal?: string;
}

interface SimInstance {
  id: string;
  name: string;
  technology: Technology;
  template: string;
  resources: Resources;
  cost: Resources;
  limits?: InstanceLimits;
  state: ActualState;
  /** A Windows container: how it is isolated, by the same rule as the real driver's. */
  isolation?: WindowsIsolation;
  snapshots: { name: string; createdAt: string; state: ActualState }[];
  createdAt: string;
  /** Its part in a migration: a destination's reserved place, or a source's copy (and the state it had). */
  migration?: { side: 'destination'; mode: 'live' | 'offline' } | { side: 'source'; state: 'sending' | 'sent'; was: ActualState; stats?: MigrationStats };
}

/** Simulated transfer rates: memory for live moves, disk for offline ones. */
const SIM_MEMORY_MIB_PER_S = 1000;
const SIM_DISK_GIB_PER_S = 0.5;

/** Waits `ms`, or less when `signal` aborts meanwhile (a cancelled operation stops at once, as a real tool is killed). */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

// A simulated host may overcommit like a real one, but not without bound: a scheduler bug that
// piles instances onto one host shows up as refused creates. vCPUs up to the highest ratio a
// policy may set (64: small fractional containers).
const SIM_OVERCOMMIT: Resources = { vcpus: 64, memoryMiB: 2, diskGiB: 1 };

/**
 * A driver that models a host instead of touching one: containers and VMs, durations drawn
 * from distributions (VMs slower), capacity that runs out, and faults injected by seed.
 */
export class SimDriver implements Driver {
  readonly name = 'sim' as const;
  private readonly instances = new Map<string, SimInstance>();
  /** Destinations waiting for an instance: the same authenticated one-shot transfer the real drivers use. */
  private readonly incoming = new Map<string, IncomingTransfer>();
  private readonly random: () => number;
  private readonly timings: SimTimings;
  private readonly stateFile: string;
  private loaded = false;
  private writing: Promise<void> | null = null;
  private changes = 0;
  private written = 0;
  /** How many times each command really changed something (for tests of exactly-once effects). */
  readonly effects: Record<string, number> = {};

  private faults: SimFaults | undefined;

  constructor(private readonly opts: SimDriverOptions) {
    this.faults = opts.faults;
    this.random = seededRandom(hashSeed(opts.seed ?? 1, opts.hostKey));
    this.timings = opts.timings ?? DEFAULT_SIM_TIMINGS;
    this.stateFile = join(opts.stateDir, `sim-${opts.hostKey.replace(/[^a-zA-Z0-9_.-]/g, '_')}.json`);
  }

  async probe(): Promise<DriverProbe> {
    return {
      name: 'sim',
      installed: true,
      version: '1.0.0',
      accelerator: 'simulated',
      offers: simOffers(this.opts.hostOs, this.opts.hostArch, this.opts.hostKernel),
    };
  }

  async create(spec: InstanceSpec, ctx?: DriverContext): Promise<InstanceStatus> {
    assertInstanceId(spec.id);
    assertSafeName('instance name', spec.name);
    assertSimVcpus(spec.technology, spec.resources.vcpus);
    await this.load();
    const existing = this.instances.get(spec.id);
    if (existing) return this.status(this.sameSpec(existing, spec));
    const offer = this.offerFor(spec.technology);
    if (!offer) throw new DriverError('Unsupported', `a simulated ${this.opts.hostOs} host runs no ${spec.technology}s`);
    const guest = offer.guests.find((g) => g.os === spec.template.osFamily && g.archs.includes(spec.arch));
    if (!guest) {
      throw new DriverError('Unsupported', `no ${spec.technology} for ${spec.template.osFamily}/${spec.arch} on a simulated ${this.opts.hostOs}/${this.opts.hostArch} host`);
    }
    const isolation = this.windowsIsolation(spec, offer);
    const cost = addResources(spec.resources, isolation === 'hyperv' && offer.hypervOverhead ? offer.hypervOverhead : offer.overhead);
    this.assertCapacity(cost);
    await this.work(spec.technology, 'create', ctx);
    // Another call may have created it while this one slept.
    const raced = this.instances.get(spec.id);
    if (raced) return this.status(this.sameSpec(raced, spec));
    this.assertCapacity(cost);
    const instance: SimInstance = {
      id: spec.id,
      name: spec.name,
      technology: spec.technology,
      template: spec.template.name,
      resources: { ...spec.resources },
      cost,
      limits: spec.limits,
      state: 'stopped',
      ...(isolation ? { isolation } : {}),
      snapshots: [],
      createdAt: new Date().toISOString(),
    };
    this.instances.set(spec.id, instance);
    this.count('create');
    await this.save();
    await this.record('create', spec.id);
    return this.status(instance);
  }

  async start(id: string, ctx?: DriverContext): Promise<InstanceStatus> {
    return this.transition(id, 'start', ['stopped'], 'running', ctx);
  }

  async stop(id: string, opts: StopOptions = {}, ctx?: DriverContext): Promise<InstanceStatus> {
    const instance = await this.get(id, 'stop');
    if (instance.state === 'stopped') return this.status(instance);
    // A forced stop pulls the plug: no graceful shutdown to wait for.
    if (!opts.force) await this.work(instance.technology, 'stop', ctx);
    instance.state = 'stopped';
    this.count('stop');
    await this.save();
    await this.record('stop', id);
    return this.status(instance);
  }

  async restart(id: string, ctx?: DriverContext): Promise<InstanceStatus> {
    const instance = await this.get(id, 'restart');
    this.refuseIfMigrating(instance);
    if (instance.state !== 'running') throw new DriverError('Conflict', `instance ${id} is ${instance.state}, not running`);
    await this.work(instance.technology, 'restart', ctx);
    this.count('restart');
    await this.record('restart', id);
    return this.status(instance);
  }

  async suspend(id: string, ctx?: DriverContext): Promise<InstanceStatus> {
    const instance = await this.get(id, 'suspend');
    this.requireCapability(instance, 'suspend');
    return this.transition(id, 'suspend', ['running'], 'suspended', ctx);
  }

  async resume(id: string, ctx?: DriverContext): Promise<InstanceStatus> {
    const instance = await this.get(id, 'resume');
    this.requireCapability(instance, 'suspend');
    return this.transition(id, 'resume', ['suspended'], 'running', ctx);
  }

  async destroy(id: string, ctx?: DriverContext): Promise<void> {
    assertInstanceId(id);
    await this.load();
    const instance = this.instances.get(id);
    if (!instance) {
      await this.record('destroy', id, true);
      throw new DriverError('NotFound', `no simulated instance ${id}`);
    }
    await this.work(instance.technology, 'destroy', ctx);
    const deleted = this.instances.delete(id);
    if (deleted) this.count('destroy');
    await this.save();
    if (deleted) await this.record('destroy', id);
  }

  async inspect(id: string): Promise<InstanceStatus> {
    return this.status(await this.get(id));
  }

  async list(): Promise<InstanceStatus[]> {
    await this.load();
    // A destination's reserved place is not an instance of this host until the move finishes.
    return [...this.instances.values()].filter((i) => i.migration?.side !== 'destination').map((i) => this.status(i));
  }

  async snapshotCreate(id: string, snapshot: string, ctx?: DriverContext): Promise<SnapshotInfo> {
    assertSafeName('snapshot name', snapshot);
    const instance = await this.get(id, 'snapshot');
    const existing = instance.snapshots.find((s) => s.name === snapshot);
    if (existing) return { name: existing.name, createdAt: existing.createdAt };
    await this.work(instance.technology, 'snapshot', ctx);
    const snap = { name: snapshot, createdAt: new Date().toISOString(), state: instance.state };
    instance.snapshots.push(snap);
    await this.save();
    await this.record('snapshot', id);
    return { name: snap.name, createdAt: snap.createdAt };
  }

  async snapshotList(id: string): Promise<SnapshotInfo[]> {
    const instance = await this.get(id);
    return instance.snapshots.map((s) => ({ name: s.name, createdAt: s.createdAt }));
  }

  async snapshotRestore(id: string, snapshot: string, ctx?: DriverContext): Promise<InstanceStatus> {
    assertSafeName('snapshot name', snapshot);
    const instance = await this.get(id);
    const snap = instance.snapshots.find((s) => s.name === snapshot);
    if (!snap) throw new DriverError('NotFound', `instance ${id} has no snapshot ${snapshot}`);
    await this.work(instance.technology, 'snapshot', ctx);
    instance.state = snap.state;
    await this.save();
    return this.status(instance);
  }

  async snapshotDelete(id: string, snapshot: string): Promise<void> {
    assertSafeName('snapshot name', snapshot);
    const instance = await this.get(id);
    instance.snapshots = instance.snapshots.filter((s) => s.name !== snapshot);
    await this.save();
  }

  async clone(sourceId: string, spec: InstanceSpec, ctx?: DriverContext): Promise<InstanceStatus> {
    const source = await this.get(sourceId);
    assertInstanceId(spec.id);
    const existing = this.instances.get(spec.id);
    if (existing) return this.status(existing);
    await this.work(source.technology, 'clone', ctx);
    const cost = addResources(spec.resources, this.offerFor(source.technology)?.overhead ?? ZERO_RESOURCES);
    this.assertCapacity(cost);
    const copy: SimInstance = { ...source, id: spec.id, name: spec.name, resources: { ...spec.resources }, cost, state: 'stopped', snapshots: [], createdAt: new Date().toISOString() };
    this.instances.set(copy.id, copy);
    await this.save();
    return this.status(copy);
  }

  async resize(id: string, resources: Resources, limits?: InstanceLimits, ctx?: DriverContext): Promise<InstanceStatus> {
    const instance = await this.get(id);
    if (instance.state !== 'stopped') this.requireCapability(instance, 'liveResize');
    const delta = {
      vcpus: resources.vcpus - instance.resources.vcpus,
      memoryMiB: resources.memoryMiB - instance.resources.memoryMiB,
      diskGiB: resources.diskGiB - instance.resources.diskGiB,
    };
    this.assertCapacity(delta);
    await this.work(instance.technology, 'resize', ctx);
    instance.cost = addResources(instance.cost, delta);
    instance.resources = { ...resources };
    if (limits) instance.limits = limits;
    await this.save();
    return this.status(instance);
  }

  /**
   * Destination: reserves the instance's place (its cost counts against capacity) and opens the
   * one-shot transfer through which the source sends the instance's record. Idempotent.
   */
  async migrateReceive(spec: InstanceSpec, opts: MigrationReceiveOptions, ctx?: DriverContext): Promise<MigrationTarget> {
    assertInstanceId(spec.id);
    assertSafeName('instance name', spec.name);
    const { mode } = assertReceiveOptions(opts);
    await this.load();
    const existing = this.instances.get(spec.id);
    const waiting = this.incoming.get(spec.id);
    if (existing?.migration?.side === 'destination' && waiting) return { mode, host: waiting.host, port: waiting.port, token: waiting.token };
    if (existing && existing.migration?.side !== 'destination') throw new DriverError('Conflict', `instance ${spec.id} already exists on ${this.opts.hostKey}`);
    const offer = this.offerFor(spec.technology);
    if (!offer?.capabilities.includes(mode === 'live' ? 'liveMigrate' : 'offlineMigrate')) {
      throw new DriverError('Unsupported', `simulated ${spec.technology}s on ${this.opts.hostOs} cannot be migrated ${mode}`);
    }
    const cost = addResources(spec.resources, offer.overhead);
    if (!existing) this.assertCapacity(cost);
    await this.work(spec.technology, 'migrate-prepare', ctx);
    await mkdir(this.opts.stateDir, { recursive: true });
    const transfer = await receiveFile({ listenHost: '127.0.0.1', advertiseHost: '127.0.0.1', file: this.transferFile(spec.id), timeoutMs: 600_000 });
    this.incoming.set(spec.id, transfer);
    this.instances.set(spec.id, {
      id: spec.id,
      name: spec.name,
      technology: spec.technology,
      template: spec.template.name,
      resources: { ...spec.resources },
      cost,
      limits: spec.limits,
      state: 'stopped',
      snapshots: [],
      createdAt: new Date().toISOString(),
      migration: { side: 'destination', mode },
    });
    this.count('migrate-prepare');
    await this.save();
    return { mode, host: transfer.host, port: transfer.port, token: transfer.token };
  }

  /**
   * Source: live, memory copied while it runs (in proportion to its memory), then paused; offline,
   * stopped, its disk copied (in proportion to its size). Its record goes to the destination.
   */
  async migrateSend(id: string, target: MigrationTarget, ctx?: DriverContext): Promise<MigrationStats> {
    const instance = await this.get(id);
    const checked = assertMigrationTarget(target, { mode: target?.mode === 'live' ? 'live' : 'offline', needToken: true });
    if (instance.migration?.side === 'destination') throw new DriverError('Conflict', `instance ${id} is an incoming copy on ${this.opts.hostKey}`);
    if (instance.migration?.side === 'source' && instance.migration.state === 'sent' && instance.migration.stats) return instance.migration.stats;
    if (checked.mode === 'live' && instance.state !== 'running') throw new DriverError('Conflict', `instance ${id} is ${instance.state}: a live migration needs it running`);
    const was = instance.migration?.side === 'source' ? instance.migration.was : instance.state;
    const started = Date.now();
    instance.migration = { side: 'source', state: 'sending', was };
    try {
      await this.work(instance.technology, 'migrate-send', ctx);
      let stoppedAt = Date.now();
      const scale = this.opts.timeScale ?? 1;
      if (checked.mode === 'live') {
        await this.pause(((instance.resources.memoryMiB / SIM_MEMORY_MIB_PER_S) * 1000 * scale) / 1, 'copying memory', ctx);
        stoppedAt = Date.now(); // the switch-over: a short pause
      } else {
        if (instance.state !== 'stopped') await this.work(instance.technology, 'stop', ctx);
        instance.state = 'stopped';
        stoppedAt = Date.now();
        await this.pause(((instance.resources.diskGiB / SIM_DISK_GIB_PER_S) * 1000 * scale) / 1, 'copying the disk', ctx);
      }
      const file = `${this.transferFile(id)}.out`;
      await writeFile(file, JSON.stringify({ ...instance, migration: undefined, state: was }));
      try {
        const sent = await sendFile({ host: checked.host, port: checked.port, token: checked.token! }, file, { signal: ctx?.signal });
        if (checked.mode === 'live') instance.state = 'suspended';
        const stats: MigrationStats = { mode: checked.mode, totalMs: Date.now() - started, downtimeMs: Date.now() - stoppedAt, transferredBytes: sent.bytes, sha256: sent.sha256 };
        instance.migration = { side: 'source', state: 'sent', was, stats };
        this.count('migrate-send');
        await this.save();
        return stats;
      } finally {
        await rm(file, { force: true });
      }
    } catch (e) {
      // The instance is where it was, as it was.
      instance.migration = undefined;
      instance.state = was;
      await this.save();
      throw e;
    }
  }

  /** Destination: takes the record that arrived and runs the instance (an offline move starts it). */
  async migrateFinish(id: string, ctx?: DriverContext): Promise<InstanceStatus> {
    const instance = await this.get(id);
    if (instance.migration?.side !== 'destination') {
      if (instance.migration || instance.state !== 'running') throw new DriverError('Conflict', `instance ${id} is not an incoming copy on ${this.opts.hostKey}`);
      return this.status(instance); // finished already
    }
    const transfer = this.incoming.get(id);
    if (!transfer) throw new DriverError('Fatal', `${this.opts.hostKey} no longer waits for ${id} (it restarted); abort the migration`);
    await this.work(instance.technology, 'migrate-finish', ctx);
    await awaitTransfer(transfer, ctx?.signal);
    const moved = JSON.parse(await readFile(this.transferFile(id), 'utf8')) as SimInstance;
    await rm(this.transferFile(id), { force: true });
    if (moved.id !== id) throw new DriverError('Fatal', `the transfer for ${id} carried ${moved.id}`);
    this.incoming.delete(id);
    if (instance.migration.mode === 'offline' && moved.state === 'running') await this.work(instance.technology, 'start', ctx);
    Object.assign(instance, { state: moved.state, snapshots: moved.snapshots ?? [], limits: moved.limits, createdAt: moved.createdAt });
    instance.migration = undefined;
    this.count('migrate-finish');
    await this.save();
    return this.status(instance);
  }

  /** Source, after finish: the copy that was sent goes. */
  async migrateCleanup(id: string, ctx?: DriverContext): Promise<void> {
    assertInstanceId(id);
    await this.load();
    const instance = this.instances.get(id);
    if (!instance) return;
    if (instance.migration?.side !== 'source' || instance.migration.state !== 'sent') {
      throw new DriverError('Conflict', `instance ${id} was not migrated away from ${this.opts.hostKey}; refusing to remove it`);
    }
    await this.work(instance.technology, 'migrate-cleanup', ctx);
    if (this.instances.delete(id)) this.count('migrate-cleanup');
    await this.save();
  }

  /** Destination: the reserved place and the listener go. Source: the instance runs (or rests) as before. */
  async migrateAbort(id: string, side: MigrationSide, ctx?: DriverContext): Promise<InstanceStatus | undefined> {
    assertInstanceId(id);
    assertMigrationSide(side);
    await this.load();
    const instance = this.instances.get(id);
    if (side === 'destination') {
      this.incoming.get(id)?.close();
      this.incoming.delete(id);
      await rm(this.transferFile(id), { force: true });
      if (!instance) return undefined;
      if (instance.migration?.side !== 'destination') throw new DriverError('Conflict', `instance ${id} is not an incoming copy on ${this.opts.hostKey}; refusing to remove it`);
      await this.work(instance.technology, 'migrate-abort', ctx);
      if (this.instances.delete(id)) this.count('migrate-abort');
      await this.save();
      return undefined;
    }
    if (!instance) throw new DriverError('NotFound', `instance ${id} does not exist on ${this.opts.hostKey}`);
    if (instance.migration?.side === 'destination') throw new DriverError('Conflict', `instance ${id} is an incoming copy on ${this.opts.hostKey}, not the source`);
    if (instance.migration?.side === 'source') {
      await this.work(instance.technology, 'migrate-abort', ctx);
      instance.state = instance.migration.was;
      instance.migration = undefined;
      this.count('migrate-abort');
      await this.save();
    }
    return this.status(instance);
  }

  /** Replaces the injected faults (tests: a failure that stops, as a real one would). */
  setFaults(faults: SimFaults | undefined): void {
    this.faults = faults;
  }

  /** Closes the listeners of incoming migrations (the agent stops). */
  close(): Promise<void> {
    for (const transfer of this.incoming.values()) transfer.close();
    this.incoming.clear();
    return Promise.resolve();
  }

  /** A copy in a migration runs only through the migration's own steps: never two running copies. */
  private refuseIfMigrating(instance: SimInstance): void {
    if (instance.migration) throw new DriverError('Conflict', `instance ${instance.id} is in a migration (${instance.migration.side}); finish or abort it first`);
  }

  private transferFile(id: string): string {
    return join(this.opts.stateDir, `sim-${this.opts.hostKey.replace(/[^a-zA-Z0-9_.-]/g, '_')}-${id}.migration`);
  }

  /** A fixed simulated wait, with progress and the abort signal. */
  private async pause(ms: number, step: string, ctx?: DriverContext): Promise<void> {
    if (ms < 1) return;
    const steps = ms > 200 ? 4 : 1;
    for (let i = 0; i < steps; i++) {
      if (ctx?.signal?.aborted) throw new DriverError('Transient', `${step} aborted`);
      await new Promise((resolve) => setTimeout(resolve, ms / steps));
      if (steps > 1) ctx?.progress?.(Math.round(((i + 1) / steps) * 100), step);
    }
  }

  /** The simulated host's committed resources (instances plus their overheads). */
  committed(): Resources {
    return [...this.instances.values()].reduce((sum, i) => addResources(sum, i.cost), { ...ZERO_RESOURCES });
  }

  private async transition(id: string, command: SimCommand, from: ActualState[], to: ActualState, ctx?: DriverContext): Promise<InstanceStatus> {
    const instance = await this.get(id, command);
    if (to !== 'stopped' && to !== 'suspended') this.refuseIfMigrating(instance);
    if (instance.state === to) return this.status(instance);
    if (!from.includes(instance.state)) {
      throw new DriverError('Conflict', `cannot ${command} instance ${id}: it is ${instance.state}`);
    }
    await this.work(instance.technology, command, ctx);
    instance.state = to;
    this.count(command);
    await this.save();
    await this.record(command, id);
    return this.status(instance);
  }

  /** An existing instance answers a create only when the create asks for the same thing. */
  private sameSpec(instance: SimInstance, spec: InstanceSpec): SimInstance {
    const r = instance.resources;
    const same = instance.technology === spec.technology && instance.template === spec.template.name && r.vcpus === spec.resources.vcpus && r.memoryMiB === spec.resources.memoryMiB && r.diskGiB === spec.resources.diskGiB;
    if (!same) throw new DriverError('Conflict', `${spec.id} exists as a ${instance.technology} of ${instance.template} with other resources or template`);
    return instance;
  }

  private offerFor(technology: Technology): DriverOffer | undefined {
    return simOffers(this.opts.hostOs, this.opts.hostArch, this.opts.hostKernel).find((o) => o.technology === technology);
  }

  /**
   * A Windows container's isolation on this simulated host, by the rule the wincontainer driver
   * applies (process: the host's build; Hyper-V: the same or older); refused as the real one is.
   */
  private windowsIsolation(spec: InstanceSpec, offer: DriverOffer): WindowsIsolation | undefined {
    if (spec.technology !== 'container' || spec.template.osFamily !== 'windows') return undefined;
    const hostBuild = windowsBuildNumber(this.opts.hostKernel) ?? 20348;
    const imageBuild = windowsBuildNumber(spec.template.windowsBuild) ?? hostBuild;
    const verdict = windowsContainerIsolation(imageBuild, hostBuild, offer.windowsIsolation, needsHypervIsolation(spec.isolation));
    if (verdict.ok) return verdict.isolation;
    // This host's build or isolation modes, not the request: another host may run it.
    throw new DriverError(
      'Unavailable',
      `a simulated Windows host of build ${hostBuild} cannot run ${spec.template.name} (build ${imageBuild}) containers${verdict.why === 'no-hyperv' ? ' without Hyper-V isolation' : ''}`,
    );
  }

  /**
   * Capability `console` (offers that declare it): a synthetic serial log, the lines a small
   * Linux guest prints as it boots, then one line per boot for each time it was started.
   */
  async consoleLog(id: string, opts: { lines: number }): Promise<string[]> {
    const instance = await this.get(id);
    this.requireCapability(instance, 'console');
    return simConsole(instance, this.opts.hostKey).slice(-Math.max(0, opts.lines));
  }

  private requireCapability(instance: SimInstance, capability: 'suspend' | 'liveResize' | 'console'): void {
    const offer = this.offerFor(instance.technology);
    if (!offer?.capabilities.includes(capability)) {
      throw new DriverError('Unsupported', `simulated ${instance.technology}s on ${this.opts.hostOs} cannot ${capability}`);
    }
  }

  private assertCapacity(extra: Resources): void {
    const used = addResources(this.committed(), extra);
    const cap = this.opts.capacity;
    for (const key of ['vcpus', 'memoryMiB', 'diskGiB'] as const) {
      if (used[key] > cap[key] * SIM_OVERCOMMIT[key]) {
        throw new DriverError('Conflict', `simulated host ${this.opts.hostKey} is out of ${key}: ${used[key]} > ${cap[key] * SIM_OVERCOMMIT[key]}`);
      }
    }
  }

  /** Sleeps for a sampled duration, reporting progress, and maybe fails as configured. */
  private async work(technology: Technology, command: SimCommand, ctx?: DriverContext): Promise<void> {
    const fault = this.faults?.[command];
    if (fault?.fatal && this.random() < fault.fatal) {
      throw new DriverError('Fatal', `simulated fatal failure during ${command}`);
    }
    if (fault?.transient && this.random() < fault.transient) {
      throw new DriverError('Transient', `simulated transient failure during ${command}`);
    }
    if (fault?.unavailable && this.random() < fault.unavailable) {
      throw new DriverError('Unavailable', `simulated: this host cannot ${command} it (no image for the template here)`);
    }
    const ms = sampleLogNormal(this.timings[technology][command], this.random) * (this.opts.timeScale ?? 1);
    if (ms < 1) return;
    const steps = ms > 200 ? 4 : 1;
    for (let i = 0; i < steps; i++) {
      if (ctx?.signal?.aborted) throw new DriverError('Transient', `${command} aborted`);
      await abortableSleep(ms / steps, ctx?.signal);
      if (ctx?.signal?.aborted) throw new DriverError('Transient', `${command} aborted`);
      if (steps > 1) ctx?.progress?.(Math.round(((i + 1) / steps) * 100), command);
    }
  }

  private count(command: string): void {
    this.effects[command] = (this.effects[command] ?? 0) + 1;
  }

  private async get(id: string, command?: string): Promise<SimInstance> {
    assertInstanceId(id);
    await this.load();
    const instance = this.instances.get(id);
    if (!instance) {
      if (command) await this.record(command, id, true);
      throw new DriverError('NotFound', `instance ${id} does not exist on ${this.opts.hostKey}`);
    }
    return instance;
  }

  /** Appends one line to the journal (when one is configured): an effect once saved, or a miss. */
  private async record(command: string, id: string, miss = false): Promise<void> {
    if (!this.opts.journal) return;
    // Applied to an instance destroyed while the command slept: the effect landed on nothing.
    const gone = !miss && command !== 'destroy' && !this.instances.has(id);
    const line = JSON.stringify({ h: this.opts.hostKey, id, c: command, t: Date.now(), ...(miss ? { miss: true } : {}), ...(gone ? { gone: true } : {}) });
    await appendFile(this.opts.journal, line + '\n');
  }

  private status(instance: SimInstance): InstanceStatus {
    return {
      id: instance.id,
      state: instance.state,
      technology: instance.technology,
      resources: { ...instance.resources },
      limits: instance.limits,
      details: {
        simulated: true,
        host: this.opts.hostKey,
        ...(instance.isolation ? { isolation: instance.isolation } : {}),
        // Where the offer declares a console, a simulated one is named, as a real driver names its log.
        ...(this.offerFor(instance.technology)?.capabilities.includes('console') ? { console: `sim://${this.opts.hostKey}/${instance.id}/console` } : {}),
      },
    };
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    if (this.opts.persist === false) return;
    try {
      const saved = JSON.parse(await readFile(this.stateFile, 'utf8')) as { instances: SimInstance[] };
      for (const i of saved.instances) this.instances.set(i.id, i);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new DriverError('Fatal', `cannot read ${this.stateFile}: ${String(e)}`);
    }
  }

  /**
   * Writes the state atomically (temp file + rename) and returns once a write that includes
   * this change is on disk. Changes that arrive during a write share the next one, so a busy
   * host writes its file a few times a second, not once per change.
   */
  private async save(): Promise<void> {
    if (this.opts.persist === false) return;
    const mine = ++this.changes;
    this.writing ??= this.writeLoop().finally(() => (this.writing = null));
    while (this.written < mine) {
      await this.writing;
      this.writing ??= this.writeLoop().finally(() => (this.writing = null));
    }
  }

  private async writeLoop(): Promise<void> {
    while (this.written < this.changes) {
      const upTo = this.changes;
      const snapshot = JSON.stringify({ instances: [...this.instances.values()] });
      await mkdir(this.opts.stateDir, { recursive: true });
      const tmp = `${this.stateFile}.${process.pid}.tmp`;
      await writeFile(tmp, snapshot);
      await rename(tmp, this.stateFile);
      this.written = upTo;
    }
  }
}

/** As the real drivers: a container's vCPUs may be a fraction (a CPU cap), a VM's are whole. */
function assertSimVcpus(technology: Technology, vcpus: number): void {
  const ok = technology === 'vm' ? Number.isInteger(vcpus) && vcpus >= 1 : isWholeMilliVcpus(vcpus) && vcpus >= MIN_CONTAINER_VCPUS;
  if (!ok) throw new DriverError('InvalidArgument', technology === 'vm' ? `a VM has whole vCPUs (≥ 1), not ${vcpus}` : `vcpus must be ≥ ${MIN_CONTAINER_VCPUS} in steps of 0.001, got ${vcpus}`);
}

/** The boot log a simulated guest would have printed: fixed per instance, so reads agree. */
function simConsole(instance: SimInstance, hostKey: string): string[] {
  const t = (s: number): string => `[${s.toFixed(6).padStart(12)}]`;
  const lines = [
    `SeaBIOS (version 1.16.3-debian) on simulated host ${hostKey}`,
    `Booting from Hard Disk...`,
    `${t(0)} Linux version 6.1.0-sim (hyperplane) #1 SMP PREEMPT_DYNAMIC`,
    `${t(0)} Command line: console=ttyS0 panic=-1 quiet`,
    `${t(0.000001)} Memory: ${instance.resources.memoryMiB * 1024}K available`,
    `${t(0.012034)} smpboot: Allowing ${instance.resources.vcpus} CPUs, 0 hotplug CPUs`,
    `${t(0.231876)} virtio_blk virtio1: [vda] ${instance.resources.diskGiB * 2097152} 512-byte logical blocks (${instance.resources.diskGiB} GiB)`,
    `${t(0.402117)} EXT4-fs (vda1): mounted filesystem with ordered data mode`,
    `${t(0.611902)} Run /sbin/init as init process`,
    `Welcome to ${instance.template}!`,
    `${instance.name} login:`,
  ];
  if (instance.state !== 'running') lines.push(`${t(1.5)} reboot: Power down`);
  return lines;
}
