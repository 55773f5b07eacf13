import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InstanceLimits, isWholeMilliVcpus, MIN_CONTAINER_VCPUS, Resources, TemplateSpec, toMilliVcpus, UUID_PATTERN } from '@hyperplane/domain';
import { ActualState, Driver, DriverContext, InstanceSpec, InstanceStatus, SnapshotInfo, StopOptions } from '../driver';
import { DriverOptions } from '../driver-options';
import { DriverError } from '../driver.exception';
import { exists } from '../lxc/lxc-host';
import { KeyedMutex } from '../lxc/lxc-lock';
import { assertInstanceId, assertSafeName } from '../validate';
import { PrlctlCli, PrlctlCliOptions } from './prlctl-cli';
import {
  normalizeUuid,
  parseInfo,
  parseList,
  parseSnapshotCreated,
  parseSnapshotInfoText,
  parseSnapshotListJson,
  parseSnapshotListText,
  PrlVmInfo,
  snapshotDateIso,
  SnapshotEntry,
} from './prlctl-parse';
import { offersFor, PrlctlProbe, PrlFlavour, PrlHostFacts, PrlTemplate, readHostFacts } from './prlctl-probe';
import { prlState } from './prlctl-state';

export interface PrlctlDriverOptions extends DriverOptions {
  /** The prlctl binary (default `prlctl` on the PATH). */
  prlctl?: string;
  /** The prlsrvctl binary (default: beside `prlctl` when that is a path, else on the PATH). */
  prlsrvctl?: string;
  /** Retry tuning (tests shorten the waits). */
  retry?: Pick<PrlctlCliOptions, 'unreachableAttempts' | 'unreachableBackoffMs' | 'syncAttempts' | 'syncRetryMs'>;
  /** How long a command waits for a transitional state (starting, stopping, …) to end; default 120 s. */
  settleTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** What the driver keeps per instance: the UUID prlctl knows it by, and what it was made from. */
interface PrlInstanceMeta {
  schema: 1;
  id: string;
  prlUuid: string;
  type: 'VM' | 'CT';
  template: string;
  resources: Resources;
}

interface Located {
  meta: PrlInstanceMeta;
  info: PrlVmInfo;
}

const NAME_PREFIX = 'hp-';
const DEFAULT_STOP_TIMEOUT_S = 60;

/** The name prlctl shows for an instance: only ever used to find its UUID again after a clone. */
export function prlNameOf(id: string): string {
  return `${NAME_PREFIX}${id}`;
}

/**
 * Parallels Desktop and Virtuozzo through `prlctl` (see prlctl-cli.ts for exit codes and
 * retries, prlctl-state.ts for states). Instances are addressed by their prlctl UUID, kept in
 * `<stateDir>/instances/<id>.json`; the prlctl name `hp-<id>` finds it again when that file is
 * lost. Containers (Virtuozzo) are created from OS templates with `--uuid` = the instance id;
 * VMs by a linked clone of a registered VM template named like the Hyperplane template.
 */
export class PrlctlDriver implements Driver {
  readonly name = 'prlctl' as const;
  private readonly cli: PrlctlCli;
  private readonly locks = new KeyedMutex();
  private facts?: Promise<PrlHostFacts>;

  constructor(private readonly opts: PrlctlDriverOptions) {
    const prlctl = opts.prlctl ?? 'prlctl';
    const prlsrvctl = opts.prlsrvctl ?? (prlctl.includes('/') || prlctl.includes('\\') ? join(dirname(prlctl), basename(prlctl).replace(/prlctl/, 'prlsrvctl')) : 'prlsrvctl');
    this.cli = new PrlctlCli({ prlctl, prlsrvctl, env: opts.env, ...opts.retry });
  }

  async probe(): Promise<PrlctlProbe> {
    this.facts = undefined;
    try {
      const facts = await this.hostFacts();
      const offers = offersFor(facts, this.opts.hostArch);
      const base = { name: 'prlctl' as const, version: `${facts.version} (${facts.serverVersion})`, flavour: facts.flavour, ...(facts.edition ? { edition: facts.edition } : {}) };
      if (offers.length === 0) {
        const how = facts.flavour === 'virtuozzo' ? 'install an OS template (vzpkg) or register a VM template' : 'register a VM template';
        return { ...base, installed: false, error: `no templates to create from: ${how} named like debian-12`, offers: [] };
      }
      return { ...base, installed: true, accelerator: facts.flavour === 'desktop' ? 'hvf' : 'kvm', offers };
    } catch (error) {
      this.facts = undefined;
      const why = error instanceof Error ? error.message : String(error);
      return { name: 'prlctl', installed: false, error: why, offers: [] };
    }
  }

  async create(spec: InstanceSpec, ctx: DriverContext = {}): Promise<InstanceStatus> {
    this.checkSpec(spec);
    const facts = await this.hostFacts();
    const template = this.templateFor(facts, spec);
    return this.locks.run(spec.id, async () => {
      const existing = await this.locate(spec.id);
      if (existing) {
        const same = existing.meta.template === spec.template.name && sameResources(existing.meta.resources, spec.resources) && existing.meta.type === template.kind.toUpperCase();
        if (!same) throw new DriverError('Conflict', `${spec.id} exists with template ${existing.meta.template} and ${fmtResources(existing.meta.resources)}, not ${spec.template.name} and ${fmtResources(spec.resources)}`);
        return this.describe(existing);
      }
      ctx.progress?.(10, `creating from ${template.name}`);
      let prlUuid: string;
      if (template.kind === 'ct') {
        await this.cli.prlctl(['create', prlNameOf(spec.id), '--vmtype', 'ct', '--ostemplate', template.ref, '--uuid', spec.id], { signal: ctx.signal, timeoutMs: 900_000 });
        prlUuid = spec.id;
      } else {
        // A linked clone shares the template's disk: seconds instead of a full copy.
        await this.cli.prlctl(['clone', template.ref, '--name', prlNameOf(spec.id), '--linked'], { signal: ctx.signal, timeoutMs: 900_000 });
        prlUuid = await this.uuidByName(spec.id);
      }
      const meta: PrlInstanceMeta = { schema: 1, id: spec.id, prlUuid, type: template.kind === 'ct' ? 'CT' : 'VM', template: spec.template.name, resources: { ...spec.resources } };
      await this.writeMeta(meta);
      ctx.progress?.(70, 'sizing');
      await this.cli.prlctl(['set', prlUuid, ...sizeArgs(meta.type, spec.resources, spec.limits)], { signal: ctx.signal });
      ctx.progress?.(100, 'created');
      return this.describe(await this.require(spec.id));
    });
  }

  async start(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, () => this.doStart(id, ctx));
  }

  async stop(id: string, opts: StopOptions = {}, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, () => this.doStop(id, opts, ctx));
  }

  async restart(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      if (this.stateOf(at) !== 'running') {
        await this.doStop(id, {}, ctx);
        return this.doStart(id, ctx);
      }
      await this.cli.prlctl(['restart', at.meta.prlUuid], { signal: ctx.signal });
      return this.describe(await this.settled(id));
    });
  }

  async suspend(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      const state = this.stateOf(at);
      if (state === 'stopped') throw new DriverError('Conflict', `${id} is stopped; only a running instance can be suspended`);
      if (state === 'running') await this.cli.prlctl(['suspend', at.meta.prlUuid], { signal: ctx.signal, timeoutMs: 600_000 });
      return this.describe(await this.settled(id));
    });
  }

  async resume(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      const state = this.stateOf(at);
      if (state === 'stopped') throw new DriverError('Conflict', `${id} is stopped; start it instead`);
      if (state === 'suspended') await this.cli.prlctl(['resume', at.meta.prlUuid], { signal: ctx.signal, timeoutMs: 600_000 });
      return this.describe(await this.settled(id));
    });
  }

  async destroy(id: string, ctx: DriverContext = {}): Promise<void> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const at = await this.locate(id);
      if (!at) {
        // Our record without its VM is a half-made create: removing the record cleans it.
        if (!(await exists(this.metaPath(id)))) throw new DriverError('NotFound', `no prlctl instance ${id}`);
        await rm(this.metaPath(id), { force: true });
        return;
      }
      if (this.stateOf(at) !== 'stopped') await this.doStop(id, { force: true }, ctx);
      try {
        // `delete` removes the bundle's files too; `unregister` would leave them behind.
        await this.cli.prlctl(['delete', at.meta.prlUuid], { signal: ctx.signal, timeoutMs: 600_000 });
      } catch (error) {
        if (!DriverError.is(error, 'NotFound')) throw error;
      }
      await rm(this.metaPath(id), { force: true });
    });
  }

  async inspect(id: string): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.describe(await this.require(id));
  }

  async list(): Promise<InstanceStatus[]> {
    const rows = parseList((await this.cli.prlctl(['list', '--all', '--json', '-o', 'uuid,status,type,name'])).stdout);
    const out: InstanceStatus[] = [];
    for (const row of rows) {
      if (!row.name.startsWith(NAME_PREFIX)) continue;
      const id = row.name.slice(NAME_PREFIX.length);
      if (!UUID_PATTERN.test(id)) continue;
      const meta = await this.readMeta(id);
      const meaning = prlState(row.status);
      out.push({
        id,
        state: meaning.state,
        technology: row.type === 'CT' ? 'container' : 'vm',
        ...(meta ? { resources: { ...meta.resources } } : {}),
        details: { prlUuid: row.uuid, prlState: row.status, ...(meaning.transitional ? { transitional: true } : {}), ...(meaning.broken ? { broken: true } : {}) },
      });
    }
    return out;
  }

  async snapshotCreate(id: string, snapshot: string, ctx: DriverContext = {}): Promise<SnapshotInfo> {
    assertInstanceId(id);
    assertSafeName('snapshot name', snapshot);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      const taken = (await this.snapshots(at)).find((s) => s.name === snapshot);
      if (taken) return { name: snapshot, createdAt: snapshotDateIso(taken.date) };
      const { stdout } = await this.cli.prlctl(['snapshot', at.meta.prlUuid, '--name', snapshot], { signal: ctx.signal, timeoutMs: 900_000 });
      const snapId = parseSnapshotCreated(stdout);
      const made = (await this.snapshots(at)).find((s) => s.id === snapId);
      return { name: snapshot, createdAt: made ? snapshotDateIso(made.date) : new Date().toISOString() };
    });
  }

  async snapshotList(id: string): Promise<SnapshotInfo[]> {
    assertInstanceId(id);
    const at = await this.require(id);
    return (await this.snapshots(at)).map((s) => ({ name: s.name, createdAt: snapshotDateIso(s.date) }));
  }

  async snapshotRestore(id: string, snapshot: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    assertSafeName('snapshot name', snapshot);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      const target = (await this.snapshots(at)).find((s) => s.name === snapshot);
      if (!target) throw new DriverError('NotFound', `${id} has no snapshot ${snapshot}`);
      await this.cli.prlctl(['snapshot-switch', at.meta.prlUuid, '--id', target.id], { signal: ctx.signal, timeoutMs: 900_000 });
      return this.describe(await this.settled(id));
    });
  }

  async snapshotDelete(id: string, snapshot: string, ctx: DriverContext = {}): Promise<void> {
    assertInstanceId(id);
    assertSafeName('snapshot name', snapshot);
    await this.locks.run(id, async () => {
      const at = await this.settled(id);
      const target = (await this.snapshots(at)).find((s) => s.name === snapshot);
      if (target) await this.cli.prlctl(['snapshot-delete', at.meta.prlUuid, '--id', target.id], { signal: ctx.signal, timeoutMs: 900_000 });
    });
  }

  async clone(sourceId: string, spec: InstanceSpec, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(sourceId);
    this.checkSpec(spec);
    if (sourceId === spec.id) throw new DriverError('InvalidArgument', 'a clone needs an id of its own');
    const [first, second] = [sourceId, spec.id].sort() as [string, string];
    return this.locks.run(first, () =>
      this.locks.run(second, async () => {
        const existing = await this.locate(spec.id);
        if (existing) return this.describe(existing);
        const source = await this.settled(sourceId);
        if (this.stateOf(source) !== 'stopped') throw new DriverError('Conflict', `${sourceId} is ${this.stateOf(source)}; stop it before cloning`);
        // A full clone: a linked one would break when its source is deleted.
        await this.cli.prlctl(['clone', source.meta.prlUuid, '--name', prlNameOf(spec.id)], { signal: ctx.signal, timeoutMs: 1_800_000 });
        const prlUuid = await this.uuidByName(spec.id);
        const meta: PrlInstanceMeta = { ...source.meta, id: spec.id, prlUuid, resources: { ...spec.resources } };
        await this.writeMeta(meta);
        await this.cli.prlctl(['set', prlUuid, ...sizeArgs(meta.type, spec.resources, spec.limits)], { signal: ctx.signal });
        return this.describe(await this.require(spec.id));
      }),
    );
  }

  async resize(id: string, resources: Resources, limits?: InstanceLimits, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    assertSizing(resources, 'container');
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      if (at.meta.type === 'VM' && this.stateOf(at) !== 'stopped') {
        // The VM offer declares no liveResize: refused as Unsupported, like every undeclared capability.
        throw new DriverError('Unsupported', `${id} is ${this.stateOf(at)}; a VM is resized while stopped`);
      }
      assertSizing(resources, at.meta.type === 'CT' ? 'container' : 'vm');
      await this.cli.prlctl(['set', at.meta.prlUuid, ...sizeArgs(at.meta.type, resources, limits)], { signal: ctx.signal });
      await this.writeMeta({ ...at.meta, resources: { ...resources } });
      return this.describe(await this.require(id));
    });
  }

  // --- internals -----------------------------------------------------------------------------

  private hostFacts(): Promise<PrlHostFacts> {
    this.facts ??= readHostFacts(this.cli, this.opts.hostOs, this.opts.hostArch).catch((error: unknown) => {
      this.facts = undefined;
      throw error;
    });
    return this.facts;
  }

  private async flavour(): Promise<PrlFlavour> {
    return (await this.hostFacts()).flavour;
  }

  private checkSpec(spec: InstanceSpec): void {
    assertInstanceId(spec.id);
    assertSafeName('instance name', spec.name);
    assertSizing(spec.resources, spec.technology);
    if (spec.arch !== this.opts.hostArch) throw new DriverError('Unsupported', `prlctl runs ${this.opts.hostArch} guests here, not ${spec.arch}`);
  }

  /** The template on this host for the spec; a host that lacks it is a host problem, not the request's. */
  private templateFor(facts: PrlHostFacts, spec: InstanceSpec): PrlTemplate {
    if (spec.technology === 'container' && facts.flavour !== 'virtuozzo') {
      throw new DriverError('Unsupported', 'Parallels Desktop runs no containers; Virtuozzo does');
    }
    const kind = spec.technology === 'container' ? 'ct' : 'vm';
    const wanted = preferredTemplateName(spec.template, kind);
    const found =
      facts.templates.find((t) => t.kind === kind && wanted !== undefined && t.name === wanted) ??
      facts.templates.find((t) => t.kind === kind && t.os === spec.template.osFamily && t.distribution === spec.template.distribution && t.version === spec.template.version);
    if (!found) {
      throw new DriverError('Unavailable', `this host has no ${kind === 'ct' ? 'OS' : 'VM'} template for ${spec.template.name}`);
    }
    return found;
  }

  private async doStart(id: string, ctx: DriverContext): Promise<InstanceStatus> {
    const at = await this.settled(id);
    const state = this.stateOf(at);
    if (state === 'running') return this.describe(at);
    await this.cli.prlctl([state === 'suspended' ? 'resume' : 'start', at.meta.prlUuid], { signal: ctx.signal, timeoutMs: 600_000 });
    return this.describe(await this.settled(id));
  }

  private async doStop(id: string, opts: StopOptions, ctx: DriverContext): Promise<InstanceStatus> {
    const at = await this.settled(id);
    const uuid = at.meta.prlUuid;
    if (this.stateOf(at) === 'stopped') return this.describe(at);
    if (at.info.state === 'suspended') {
      // A suspended VM has its memory on disk: Desktop drops it with --drop-state; Virtuozzo's
      // man page has no such flag, so the VM is resumed and then killed.
      if ((await this.flavour()) === 'desktop') {
        await this.cli.prlctl(['stop', uuid, '--drop-state'], { signal: ctx.signal });
        return this.describe(await this.settled(id));
      }
      await this.cli.prlctl(['resume', uuid], { signal: ctx.signal, timeoutMs: 600_000 });
      await this.settled(id);
      opts = { ...opts, force: true };
    }
    if (opts.force || at.info.state === 'paused') {
      await this.cli.prlctl(['stop', uuid, '--kill'], { signal: ctx.signal });
    } else {
      const timeoutS = opts.timeoutS ?? DEFAULT_STOP_TIMEOUT_S;
      try {
        await this.cli.prlctl(['stop', uuid], { signal: ctx.signal, timeoutMs: timeoutS * 1000 });
      } catch (error) {
        // The guest did not shut down in time (or refused): pull the plug.
        if (!DriverError.is(error, 'Transient') && !DriverError.is(error, 'Fatal')) throw error;
        // `stopping` reads as stopped for callers, but the plug still has to be pulled.
        const now = await this.require(id);
        if (now.info.state !== 'stopped') await this.cli.prlctl(['stop', uuid, '--kill'], { signal: ctx.signal });
      }
    }
    return this.describe(await this.settled(id));
  }

  /** The instance once it is out of any transitional state; `Transient` if it stays in one. */
  private async settled(id: string): Promise<Located> {
    const deadline = Date.now() + (this.opts.settleTimeoutMs ?? 120_000);
    let pause = 50;
    for (;;) {
      const at = await this.require(id);
      const meaning = prlState(at.info.state);
      if (!meaning.transitional) return at;
      if (Date.now() > deadline) throw new DriverError('Transient', `${id} is still ${at.info.state}`);
      await sleep(pause);
      pause = Math.min(pause * 2, 1000);
    }
  }

  private async require(id: string): Promise<Located> {
    const at = await this.locate(id);
    if (!at) throw new DriverError('NotFound', `no instance ${id} on this host`);
    return at;
  }

  /** The instance by its recorded UUID; by its name when the record is gone or stale. */
  private async locate(id: string): Promise<Located | null> {
    const meta = await this.readMeta(id);
    if (meta) {
      try {
        return { meta, info: await this.info(meta.prlUuid) };
      } catch (error) {
        if (!DriverError.is(error, 'NotFound')) throw error;
      }
    }
    const rows = parseList((await this.cli.prlctl(['list', '--all', '--json', '-o', 'uuid,status,type,name'])).stdout);
    const row = rows.find((r) => r.name === prlNameOf(id));
    if (!row) {
      if (meta) await rm(this.metaPath(id), { force: true });
      return null;
    }
    const info = await this.info(row.uuid);
    const found: PrlInstanceMeta = meta
      ? { ...meta, prlUuid: row.uuid }
      : { schema: 1, id, prlUuid: row.uuid, type: info.type, template: 'unknown', resources: { vcpus: info.cpus ?? 1, memoryMiB: info.memoryMiB ?? 0, diskGiB: 0 } };
    await this.writeMeta(found);
    return { meta: found, info };
  }

  private async info(prlUuid: string): Promise<PrlVmInfo> {
    return parseInfo((await this.cli.prlctl(['list', '--info', '--json', prlUuid])).stdout);
  }

  private async uuidByName(id: string): Promise<string> {
    const rows = parseList((await this.cli.prlctl(['list', '--all', '--json', '-o', 'uuid,status,type,name'])).stdout);
    const matches = rows.filter((r) => r.name === prlNameOf(id));
    if (matches.length !== 1) throw new DriverError('Fatal', `expected one VM named ${prlNameOf(id)} after the clone, found ${matches.length}`);
    return matches[0]!.uuid;
  }

  private async snapshots(at: Located): Promise<SnapshotEntry[]> {
    const uuid = at.meta.prlUuid;
    if ((await this.flavour()) === 'desktop') {
      return parseSnapshotListJson((await this.cli.prlctl(['snapshot-list', uuid, '--json'])).stdout);
    }
    // Virtuozzo's snapshot-list has no JSON: ids from the table, names from -i per snapshot.
    const rows = parseSnapshotListText((await this.cli.prlctl(['snapshot-list', uuid, '--no-header'])).stdout);
    const out: SnapshotEntry[] = [];
    for (const row of rows) {
      const detail = parseSnapshotInfoText((await this.cli.prlctl(['snapshot-list', uuid, '--id', row.id])).stdout);
      out.push({ ...row, name: detail?.name ?? '', date: detail?.date ?? '' });
    }
    return out;
  }

  private stateOf(at: Located): ActualState {
    return prlState(at.info.state).state;
  }

  private describe(at: Located): InstanceStatus {
    const meaning = prlState(at.info.state);
    return {
      id: at.meta.id,
      state: meaning.state,
      technology: at.meta.type === 'CT' ? 'container' : 'vm',
      resources: {
        // A container's fraction is its --cpulimit on whole --cpus: the size asked is in the meta.
        vcpus: at.meta.type === 'CT' && !Number.isInteger(at.meta.resources.vcpus) ? at.meta.resources.vcpus : (at.info.cpus ?? at.meta.resources.vcpus),
        memoryMiB: at.info.memoryMiB ?? at.meta.resources.memoryMiB,
        diskGiB: at.meta.resources.diskGiB,
      },
      details: {
        prlUuid: at.meta.prlUuid,
        prlState: at.info.state,
        template: at.meta.template,
        ...(at.info.rawType && at.info.rawType !== at.info.type ? { prlType: at.info.rawType } : {}),
        ...(meaning.transitional ? { transitional: true } : {}),
        ...(meaning.broken ? { broken: true } : {}),
      },
    };
  }

  private metaPath(id: string): string {
    return join(this.opts.stateDir, 'instances', `${assertInstanceId(id)}.json`);
  }

  private async readMeta(id: string): Promise<PrlInstanceMeta | null> {
    try {
      const meta = JSON.parse(await readFile(this.metaPath(id), 'utf8')) as PrlInstanceMeta;
      return meta.schema === 1 && meta.id === id && typeof meta.prlUuid === 'string' ? { ...meta, prlUuid: normalizeUuid(meta.prlUuid) } : null;
    } catch {
      return null;
    }
  }

  private async writeMeta(meta: PrlInstanceMeta): Promise<void> {
    const path = this.metaPath(meta.id);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(meta, null, 2)}\n`);
    await rename(tmp, path);
  }
}

/** `image.prlctl.vmTemplate` / `image.prlctl.ostemplate` when the template names one. */
function preferredTemplateName(template: TemplateSpec, kind: 'vm' | 'ct'): string | undefined {
  const image = template.image?.prlctl;
  if (!image || typeof image !== 'object') return kind === 'vm' ? template.name : undefined;
  const value = (image as Record<string, unknown>)[kind === 'vm' ? 'vmTemplate' : 'ostemplate'];
  return typeof value === 'string' ? value : kind === 'vm' ? template.name : undefined;
}

/**
 * A VM has whole vCPUs (≥ 1). A Virtuozzo container may have a fraction (≥ 0.01 in 0.001
 * steps): whole `--cpus` above it and a `--cpulimit` in percent of one CPU (see sizeArgs).
 */
function assertSizing(r: Resources, technology: 'container' | 'vm'): void {
  if (technology === 'container') {
    if (!isWholeMilliVcpus(r.vcpus) || r.vcpus < MIN_CONTAINER_VCPUS) throw new DriverError('InvalidArgument', `vcpus must be ≥ ${MIN_CONTAINER_VCPUS} in steps of 0.001, got ${r.vcpus}`);
  } else if (!Number.isInteger(r.vcpus) || r.vcpus < 1) {
    throw new DriverError('InvalidArgument', `vcpus must be a whole number ≥ 1, got ${r.vcpus}`);
  }
  if (!Number.isInteger(r.memoryMiB) || r.memoryMiB < 32) throw new DriverError('InvalidArgument', `memoryMiB must be a whole number ≥ 32, got ${r.memoryMiB}`);
  if (!Number.isInteger(r.diskGiB) || r.diskGiB < 0) throw new DriverError('InvalidArgument', `diskGiB must be a whole number ≥ 0, got ${r.diskGiB}`);
}

/**
 * `prlctl set` arguments for a size: whole `--cpus` and `--memsize`; a container's fractional
 * vCPUs add `--cpulimit P%` (0.25 → 25%: a quarter of one CPU's time) on ceil(vcpus) CPUs,
 * and its CPU units `--cpuunits N` (Virtuozzo's relative share, the same scale as the API's).
 */
export function sizeArgs(type: 'CT' | 'VM', r: Resources, limits?: InstanceLimits): string[] {
  const args = ['--cpus', String(Math.max(1, Math.ceil(r.vcpus))), '--memsize', String(r.memoryMiB)];
  if (type === 'CT' && !Number.isInteger(r.vcpus)) args.push('--cpulimit', `${toMilliVcpus(r.vcpus) / 10}%`);
  if (type === 'CT' && limits?.cpuUnits !== undefined) args.push('--cpuunits', String(limits.cpuUnits));
  return args;
}

function sameResources(a: Resources, b: Resources): boolean {
  return a.vcpus === b.vcpus && a.memoryMiB === b.memoryMiB && a.diskGiB === b.diskGiB;
}

function fmtResources(r: Resources): string {
  return `${r.vcpus} vCPU/${r.memoryMiB} MiB/${r.diskGiB} GiB`;
}

/** The registry's factory: `HYPERPLANE_PRLCTL` names another prlctl (prlsrvctl is looked for beside it). */
export function createPrlctlDriver(opts: DriverOptions): PrlctlDriver {
  const prlctl = process.env.HYPERPLANE_PRLCTL?.trim();
  return new PrlctlDriver({ ...opts, ...(prlctl ? { prlctl } : {}) });
}
