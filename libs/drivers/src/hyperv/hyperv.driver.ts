import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Resources, TemplateSpec, UUID_PATTERN } from '@hyperplane/domain';
import { Driver, DriverContext, InstanceSpec, InstanceStatus, SnapshotInfo, StopOptions } from '../driver';
import { DriverOptions } from '../driver-options';
import { DriverError } from '../driver.exception';
import { exists } from '../lxc/lxc-host';
import { KeyedMutex } from '../lxc/lxc-lock';
import { assertInstanceId, assertSafeName } from '../validate';
import { HvHostFacts, HvTemplate, hvOffers, HypervProbe, templates, unusableReason } from './hyperv-probe';
import { HypervShell, HypervShellOptions } from './hyperv-shell';
import { hvState } from './hyperv-state';

export interface HypervDriverOptions extends DriverOptions {
  /** The PowerShell host (default `powershell`, i.e. Windows PowerShell 5.1's powershell.exe). */
  powershell?: string;
  /** Where the scripts are (default: shipped beside the driver). */
  scriptDir?: string;
  /** Base VHDX files named like templates, e.g. windows-server-2022.vhdx (default `<stateDir>/templates`). */
  templateDir?: string;
  /** A virtual switch to connect new VMs to (default: none). */
  switchName?: string;
  retry?: Pick<HypervShellOptions, 'unavailableAttempts' | 'unavailableBackoffMs'>;
  /** How long a call waits for a transitional state (Starting, Saving, …) to end; default 120 s. */
  settleTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** What get.ps1 / list.ps1 print for one VM. */
export interface HvVm {
  id: string;
  name: string;
  state: string;
  generation: number;
  processorCount: number;
  memoryStartupBytes: number;
  path: string;
  uptimeSeconds: number;
  disks: string[];
}

interface HvMeta {
  schema: 1;
  id: string;
  /** The GUID Hyper-V gave the VM: every script addresses it by this. */
  vmId: string;
  /** '' when the record was rebuilt from the VM alone. */
  template: string;
  resources: Resources;
  instanceDir: string;
}

interface Located {
  meta: HvMeta;
  vm: HvVm;
}

const NAME_PREFIX = 'hp-';
const DEFAULT_STOP_TIMEOUT_S = 60;
const MIB = 1024 * 1024;

export function hvNameOf(id: string): string {
  return `${NAME_PREFIX}${id}`;
}

/**
 * Hyper-V through Windows PowerShell: one script per operation (./scripts), run with named
 * parameters, answering in a framed JSON block (hyperv-output.ts). VMs are Generation 2 on a
 * differencing disk over a template's base VHDX, named `hp-<id>` and addressed by their GUID,
 * kept in `<stateDir>/instances/<id>.json`. Suspend is Save-VM (see save.ps1 for why).
 */
export class HypervDriver implements Driver {
  readonly name = 'hyperv' as const;
  readonly shell: HypervShell;
  private readonly locks = new KeyedMutex();
  private facts?: Promise<HvHostFacts>;

  constructor(private readonly opts: HypervDriverOptions) {
    this.shell = new HypervShell({ powershell: opts.powershell ?? 'powershell', scriptDir: opts.scriptDir, env: opts.env, ...opts.retry });
  }

  get templateDir(): string {
    return this.opts.templateDir ?? join(this.opts.stateDir, 'templates');
  }

  async probe(): Promise<HypervProbe> {
    this.facts = undefined;
    if (this.opts.hostOs !== 'windows') {
      return { name: 'hyperv', installed: false, error: `Hyper-V runs on Windows hosts only, this is ${this.opts.hostOs}`, offers: [] };
    }
    try {
      const facts = await this.hostFacts();
      const base = { name: 'hyperv' as const, version: `Hyper-V ${facts.hostVersion || 'unknown'} on Windows ${facts.osVersion}`, build: facts.build, templateDir: this.templateDir };
      const why = unusableReason(facts, this.templateDir);
      if (why) return { ...base, installed: false, error: why, offers: [] };
      return { ...base, installed: true, accelerator: 'hyperv', offers: hvOffers(facts, this.opts.hostArch) };
    } catch (error) {
      this.facts = undefined;
      return { name: 'hyperv', installed: false, error: error instanceof Error ? error.message : String(error), offers: [] };
    }
  }

  async create(spec: InstanceSpec, ctx: DriverContext = {}): Promise<InstanceStatus> {
    this.checkSpec(spec);
    const template = this.templateFor(await this.hostFacts(), spec.template);
    return this.locks.run(spec.id, async () => {
      const existing = await this.locate(spec.id);
      if (existing) {
        const m = existing.meta;
        const same = (m.template === '' || m.template === spec.template.name) && sameResources(m.resources, spec.resources);
        if (!same) throw new DriverError('Conflict', `${spec.id} exists with template ${m.template || 'unknown'} and ${fmt(m.resources)}, not ${spec.template.name} and ${fmt(spec.resources)}`);
        return this.describe(existing);
      }
      ctx.progress?.(10, `differencing disk over ${template.name}`);
      const instanceDir = join(this.opts.stateDir, 'vms', spec.id);
      const vm = await this.shell.run<HvVm>(
        'create',
        {
          Name: hvNameOf(spec.id),
          BaseVhdx: template.path,
          InstanceDir: instanceDir,
          ProcessorCount: spec.resources.vcpus,
          MemoryBytes: spec.resources.memoryMiB * MIB,
          GuestOs: template.os,
          SwitchName: this.opts.switchName,
        },
        { signal: ctx.signal, timeoutMs: 600_000 },
      );
      const meta: HvMeta = { schema: 1, id: spec.id, vmId: vm.id.toLowerCase(), template: spec.template.name, resources: { ...spec.resources }, instanceDir };
      await this.writeMeta(meta);
      ctx.progress?.(100, 'created');
      return this.describe({ meta, vm });
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
    // No Restart-VM: it is a hard reset; a restart here is a graceful stop and a start.
    return this.locks.run(id, async () => {
      await this.doStop(id, {}, ctx);
      return this.doStart(id, ctx);
    });
  }

  async suspend(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      const state = hvState(at.vm.state).state;
      if (state === 'stopped') throw new DriverError('Conflict', `${id} is stopped; only a running instance can be suspended`);
      if (at.vm.state === 'Saved') return this.describe(at);
      return this.describe(await this.settledAfter(id, await this.shell.run<HvVm>('save', { VmId: at.meta.vmId }, { signal: ctx.signal, timeoutMs: 600_000 })));
    });
  }

  async resume(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      const state = hvState(at.vm.state).state;
      if (state === 'stopped') throw new DriverError('Conflict', `${id} is stopped; start it instead`);
      if (state === 'running') return this.describe(at);
      return this.describe(await this.settledAfter(id, await this.shell.run<HvVm>('resume', { VmId: at.meta.vmId }, { signal: ctx.signal, timeoutMs: 600_000 })));
    });
  }

  async destroy(id: string, ctx: DriverContext = {}): Promise<void> {
    assertInstanceId(id);
    return this.locks.run(id, async () => {
      const at = await this.locate(id);
      // Our record without its VM is a half-made create: removing the record cleans it.
      if (!at && !(await exists(this.metaPath(id)))) throw new DriverError('NotFound', `no Hyper-V instance ${id}`);
      if (at) {
        try {
          await this.shell.run('delete', { VmId: at.meta.vmId, InstanceDir: at.meta.instanceDir }, { signal: ctx.signal, timeoutMs: 600_000 });
        } catch (error) {
          if (!DriverError.is(error, 'NotFound')) throw error;
        }
      }
      await rm(this.metaPath(id), { force: true });
    });
  }

  async inspect(id: string): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.describe(await this.require(id));
  }

  async list(): Promise<InstanceStatus[]> {
    const vms = await this.shell.run<HvVm[]>('list', { NamePrefix: NAME_PREFIX });
    const out: InstanceStatus[] = [];
    for (const vm of vms) {
      const id = vm.name.slice(NAME_PREFIX.length);
      if (!vm.name.startsWith(NAME_PREFIX) || !UUID_PATTERN.test(id)) continue;
      out.push(this.describe({ meta: (await this.readMeta(id)) ?? this.metaFromVm(id, vm), vm }));
    }
    return out;
  }

  async snapshotCreate(id: string, snapshot: string, ctx: DriverContext = {}): Promise<SnapshotInfo> {
    assertInstanceId(id);
    assertSafeName('snapshot name', snapshot);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      const made = await this.shell.run<HvCheckpoint>('checkpoint-create', { VmId: at.meta.vmId, SnapshotName: snapshot }, { signal: ctx.signal, timeoutMs: 900_000 });
      return { name: made.name, createdAt: made.createdAt };
    });
  }

  async snapshotList(id: string): Promise<SnapshotInfo[]> {
    assertInstanceId(id);
    const at = await this.require(id);
    const list = await this.shell.run<HvCheckpoint[]>('checkpoint-list', { VmId: at.meta.vmId });
    return list.map((c) => ({ name: c.name, createdAt: c.createdAt }));
  }

  async snapshotRestore(id: string, snapshot: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    assertSafeName('snapshot name', snapshot);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      const vm = await this.shell.run<HvVm>('checkpoint-restore', { VmId: at.meta.vmId, SnapshotName: snapshot }, { signal: ctx.signal, timeoutMs: 900_000 });
      return this.describe(await this.settledAfter(id, vm));
    });
  }

  async snapshotDelete(id: string, snapshot: string, ctx: DriverContext = {}): Promise<void> {
    assertInstanceId(id);
    assertSafeName('snapshot name', snapshot);
    await this.locks.run(id, async () => {
      const at = await this.settled(id);
      await this.shell.run('checkpoint-delete', { VmId: at.meta.vmId, SnapshotName: snapshot }, { signal: ctx.signal, timeoutMs: 900_000 });
    });
  }

  async resize(id: string, resources: Resources, _limits?: unknown, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    assertSizing(resources);
    return this.locks.run(id, async () => {
      const at = await this.settled(id);
      if (hvState(at.vm.state).state !== 'stopped') throw new DriverError('Unsupported', `${id} is ${at.vm.state}; a Hyper-V VM is resized while Off (no liveResize)`);
      const vm = await this.shell.run<HvVm>('resize', { VmId: at.meta.vmId, ProcessorCount: resources.vcpus, MemoryBytes: resources.memoryMiB * MIB }, { signal: ctx.signal });
      const meta = { ...at.meta, resources: { ...resources } };
      await this.writeMeta(meta);
      return this.describe({ meta, vm });
    });
  }

  // --- internals -----------------------------------------------------------------------------

  private hostFacts(): Promise<HvHostFacts> {
    this.facts ??= this.shell.run<HvHostFacts>('probe', { TemplateDir: this.templateDir }, { timeoutMs: 60_000 }).catch((error: unknown) => {
      this.facts = undefined;
      throw error;
    });
    return this.facts;
  }

  private checkSpec(spec: InstanceSpec): void {
    assertInstanceId(spec.id);
    assertSafeName('instance name', spec.name);
    assertSizing(spec.resources);
    if (spec.technology !== 'vm') throw new DriverError('Unsupported', 'Hyper-V runs VMs; Windows containers are the wincontainer driver');
    if (spec.arch !== this.opts.hostArch) throw new DriverError('Unsupported', `Hyper-V runs ${this.opts.hostArch} guests here, not ${spec.arch}`);
  }

  /** The base disk for a template; a host without it is a host problem, not the request's. */
  private templateFor(facts: HvHostFacts, t: TemplateSpec): HvTemplate {
    const image = t.image?.hyperv;
    const wanted = image && typeof image === 'object' && typeof (image as Record<string, unknown>).vhdx === 'string' ? String((image as Record<string, unknown>).vhdx).replace(/\.vhdx$/i, '') : t.name;
    const all = templates(facts);
    const found = all.find((x) => x.name === wanted) ?? all.find((x) => x.os === t.osFamily && x.distribution === t.distribution && x.version === t.version);
    if (!found) throw new DriverError('Unavailable', `this host has no base disk for ${t.name} in ${this.templateDir}`);
    return found;
  }

  private async doStart(id: string, ctx: DriverContext): Promise<InstanceStatus> {
    const at = await this.settled(id);
    if (at.vm.state === 'Running') return this.describe(at);
    return this.describe(await this.settledAfter(id, await this.shell.run<HvVm>('start', { VmId: at.meta.vmId }, { signal: ctx.signal, timeoutMs: 600_000 })));
  }

  private async doStop(id: string, opts: StopOptions, ctx: DriverContext): Promise<InstanceStatus> {
    const at = await this.settled(id);
    if (at.vm.state === 'Off') return this.describe(at);
    const timeoutS = Math.max(1, Math.round(opts.timeoutS ?? DEFAULT_STOP_TIMEOUT_S));
    // The script escalates to -TurnOff itself; our own deadline leaves it room to do so.
    const vm = await this.shell.run<HvVm & { escalated: boolean }>('stop', { VmId: at.meta.vmId, TimeoutSeconds: timeoutS, TurnOff: opts.force === true }, { signal: ctx.signal, timeoutMs: (timeoutS + 120) * 1000 });
    const status = this.describe(await this.settledAfter(id, vm));
    return vm.escalated ? { ...status, details: { ...status.details, escalated: true } } : status;
  }

  /** The VM a script returned, or once it leaves a transitional state. */
  private async settledAfter(id: string, vm: HvVm): Promise<Located> {
    if (!hvState(vm.state).transitional) return { meta: (await this.readMeta(id)) ?? this.metaFromVm(id, vm), vm };
    return this.settled(id);
  }

  private async settled(id: string): Promise<Located> {
    const deadline = Date.now() + (this.opts.settleTimeoutMs ?? 120_000);
    let pause = 100;
    for (;;) {
      const at = await this.require(id);
      if (!hvState(at.vm.state).transitional) return at;
      if (Date.now() > deadline) throw new DriverError('Transient', `${id} is still ${at.vm.state}`);
      await sleep(pause);
      pause = Math.min(pause * 2, 2000);
    }
  }

  private async require(id: string): Promise<Located> {
    const at = await this.locate(id);
    if (!at) throw new DriverError('NotFound', `no instance ${id} on this host`);
    return at;
  }

  /** By the recorded GUID; by the name `hp-<id>` when the record is gone or stale. */
  private async locate(id: string): Promise<Located | null> {
    const meta = await this.readMeta(id);
    if (meta) {
      try {
        return { meta, vm: await this.shell.run<HvVm>('get', { VmId: meta.vmId }) };
      } catch (error) {
        if (!DriverError.is(error, 'NotFound')) throw error;
      }
    }
    const vms = await this.shell.run<HvVm[]>('list', { NamePrefix: hvNameOf(id) });
    const vm = vms.find((v) => v.name === hvNameOf(id));
    if (!vm) return null;
    const found = meta ? { ...meta, vmId: vm.id.toLowerCase() } : this.metaFromVm(id, vm);
    await this.writeMeta(found);
    return { meta: found, vm };
  }

  private metaFromVm(id: string, vm: HvVm): HvMeta {
    return {
      schema: 1,
      id,
      vmId: vm.id.toLowerCase(),
      template: '',
      resources: { vcpus: vm.processorCount, memoryMiB: Math.round(vm.memoryStartupBytes / MIB), diskGiB: 0 },
      instanceDir: join(this.opts.stateDir, 'vms', id),
    };
  }

  private describe(at: Located): InstanceStatus {
    const meaning = hvState(at.vm.state);
    return {
      id: at.meta.id,
      state: meaning.state,
      technology: 'vm',
      resources: { vcpus: at.vm.processorCount, memoryMiB: Math.round(at.vm.memoryStartupBytes / MIB), diskGiB: at.meta.resources.diskGiB },
      details: {
        vmId: at.meta.vmId,
        hvState: at.vm.state,
        generation: at.vm.generation,
        ...(meaning.transitional ? { transitional: true } : {}),
        ...(meaning.broken ? { broken: true } : {}),
      },
    };
  }

  private metaPath(id: string): string {
    return join(this.opts.stateDir, 'instances', `${assertInstanceId(id)}.json`);
  }

  private async readMeta(id: string): Promise<HvMeta | null> {
    try {
      const meta = JSON.parse(await readFile(this.metaPath(id), 'utf8')) as HvMeta;
      return meta.schema === 1 && meta.id === id && typeof meta.vmId === 'string' ? meta : null;
    } catch {
      return null;
    }
  }

  private async writeMeta(meta: HvMeta): Promise<void> {
    const path = this.metaPath(meta.id);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(meta, null, 2)}\n`);
    await rename(tmp, path);
  }
}

interface HvCheckpoint {
  name: string;
  id: string;
  createdAt: string;
}

function assertSizing(r: Resources): void {
  if (!Number.isInteger(r.vcpus) || r.vcpus < 1) throw new DriverError('InvalidArgument', `vcpus must be a whole number ≥ 1, got ${r.vcpus}`);
  // Hyper-V takes memory in 2 MiB steps.
  if (!Number.isInteger(r.memoryMiB) || r.memoryMiB < 32 || r.memoryMiB % 2 !== 0) throw new DriverError('InvalidArgument', `memoryMiB must be an even whole number ≥ 32, got ${r.memoryMiB}`);
  if (!Number.isInteger(r.diskGiB) || r.diskGiB < 0) throw new DriverError('InvalidArgument', `diskGiB must be a whole number ≥ 0, got ${r.diskGiB}`);
}

function sameResources(a: Resources, b: Resources): boolean {
  return a.vcpus === b.vcpus && a.memoryMiB === b.memoryMiB && a.diskGiB === b.diskGiB;
}

function fmt(r: Resources): string {
  return `${r.vcpus} vCPU/${r.memoryMiB} MiB/${r.diskGiB} GiB`;
}

/** The registry's factory: `HYPERPLANE_POWERSHELL` names another PowerShell host, `HYPERPLANE_HYPERV_TEMPLATE_DIR` another base-disk directory. */
export function createHypervDriver(opts: DriverOptions): HypervDriver {
  const powershell = process.env.HYPERPLANE_POWERSHELL?.trim();
  const templateDir = process.env.HYPERPLANE_HYPERV_TEMPLATE_DIR?.trim();
  return new HypervDriver({ ...opts, ...(powershell ? { powershell } : {}), ...(templateDir ? { templateDir } : {}) });
}
