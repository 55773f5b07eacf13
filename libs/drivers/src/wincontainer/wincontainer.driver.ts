import { setTimeout as sleep } from 'node:timers/promises';
import {
  BUILTIN_TEMPLATES,
  MIN_CONTAINER_VCPUS,
  Resources,
  TemplateSpec,
  UUID_PATTERN,
  WINDOWS_ISOLATIONS,
  WindowsIsolation,
  fromMilliVcpus,
  isOneOf,
  isWholeMilliVcpus,
  needsHypervIsolation,
  toMilliVcpus,
  windowsContainerIsolation,
} from '@hyperplane/domain';
import { Driver, DriverContext, InstanceSpec, InstanceStatus, StopOptions } from '../driver';
import { DriverOptions } from '../driver-options';
import { DriverError } from '../driver.exception';
import { KeyedMutex } from '../lxc/lxc-lock';
import { assertInstanceId, assertSafeName } from '../validate';
import { DockerCli, DockerCliOptions } from './docker-cli';
import { DockerContainer, dockerState, parseContainerInspect, parsePs } from './wincontainer-parse';
import { WinHostFacts, WincontainerProbe, buildName, commandOf, imageRefOf, inspectImage, readWinHostFacts, winCapabilities, winOffers } from './wincontainer-probe';

export interface WincontainerDriverOptions extends DriverOptions {
  /** The docker binary (default `docker` on the PATH). */
  docker?: string;
  /** Isolation modes this host offers (default process only; Hyper-V isolation needs the Hyper-V role). */
  isolation?: WindowsIsolation[];
  /** Pull a template's image the host lacks (default false: only local images are offered). */
  pull?: boolean;
  /** Templates whose images are looked for (default the built-in catalogue). */
  templates?: readonly TemplateSpec[];
  retry?: Pick<DockerCliOptions, 'unreachableAttempts' | 'unreachableBackoffMs'>;
  /** How long a command waits for a transitional state to end; default 60 s. */
  settleTimeoutMs?: number;
  /** How long past its `--time` a `docker stop` may take before the container is killed; default 30 s. */
  stopGraceMs?: number;
  env?: NodeJS.ProcessEnv;
}

const NAME_PREFIX = 'hp-';
const LABEL_ID = 'hyperplane.instance';
const LABEL_TEMPLATE = 'hyperplane.template';
const LABEL_DISK = 'hyperplane.disk-gib';
const DEFAULT_STOP_TIMEOUT_S = 60;

/** The container name for an instance. */
export function dockerNameOf(id: string): string {
  return `${NAME_PREFIX}${id}`;
}

/**
 * Windows containers through the Docker CLI (see docker-cli.ts for errors and retries). A
 * container is named `hp-<id>` and carries its instance id, template and disk size as labels,
 * so the driver keeps no state of its own. The isolation is chosen by the same rule the
 * scheduler applies (`windowsContainerIsolation`): process isolation for an image of the host's
 * build, Hyper-V isolation for an older one or when the request needs its own kernel.
 */
export class WincontainerDriver implements Driver {
  readonly name = 'wincontainer' as const;
  private readonly cli: DockerCli;
  private readonly locks = new KeyedMutex();
  private readonly modes: WindowsIsolation[];
  private facts?: Promise<WinHostFacts>;

  constructor(private readonly opts: WincontainerDriverOptions) {
    this.cli = new DockerCli({ docker: opts.docker ?? 'docker', env: opts.env, ...opts.retry });
    this.modes = (opts.isolation ?? ['process']).filter((m) => isOneOf(WINDOWS_ISOLATIONS, m));
    if (this.modes.length === 0) this.modes = ['process'];
  }

  async probe(): Promise<WincontainerProbe> {
    this.facts = undefined;
    try {
      const facts = await this.hostFacts();
      const offers = winOffers(facts);
      const base = { name: 'wincontainer' as const, version: facts.version, hostBuild: facts.build, isolation: facts.modes };
      if (offers.length === 0) {
        return { ...base, installed: false, offers: [], error: `no Windows image runs on this ${buildName(facts.build)} host (build ${facts.build}): docker pull one of the templates' images, or set HYPERPLANE_DOCKER_PULL=true` };
      }
      return { ...base, installed: true, offers };
    } catch (error) {
      this.facts = undefined;
      return { name: 'wincontainer', installed: false, error: error instanceof Error ? error.message : String(error), offers: [] };
    }
  }

  async create(spec: InstanceSpec, ctx: DriverContext = {}): Promise<InstanceStatus> {
    this.checkSpec(spec);
    const facts = await this.hostFacts();
    return this.locks.run(spec.id, async () => {
      const existing = await this.find(spec.id);
      if (existing) return this.sameOrConflict(existing, spec);
      const ref = imageRefOf(spec.template) ?? imageRefOf(BUILTIN_TEMPLATES.find((t) => t.name === spec.template.name) ?? spec.template);
      if (!ref) throw new DriverError('Unsupported', `${spec.template.name} names no Windows container image (image.wincontainer.image)`);
      ctx.progress?.(10, `looking for ${ref}`);
      let image = await inspectImage(this.cli, ref);
      if (!image) {
        if (!this.opts.pull) throw new DriverError('Unavailable', `this host has no image ${ref} for ${spec.template.name}`);
        ctx.progress?.(20, `pulling ${ref}`);
        await this.cli.run(['pull', '--quiet', ref], { signal: ctx.signal, timeoutMs: 3_600_000 });
        image = await inspectImage(this.cli, ref);
        if (!image) throw new DriverError('Transient', `${ref} is not there after its pull`);
      }
      const declared = spec.template.windowsBuild ? Number.parseInt(spec.template.windowsBuild, 10) : null;
      const imageBuild = image.build ?? declared ?? facts.build;
      const hyperv = needsHypervIsolation(spec.isolation);
      const verdict = windowsContainerIsolation(imageBuild, facts.build, facts.modes, hyperv);
      if (!verdict.ok) {
        const why =
          verdict.why === 'build'
            ? `this host runs build ${facts.build}; ${ref} is build ${imageBuild}, which needs a host of that build or newer`
            : hyperv
              ? `the request's isolation needs take Hyper-V isolation, which this host does not offer`
              : `this host runs build ${facts.build}; ${ref} is build ${imageBuild}: process isolation needs the same build, and this host offers no Hyper-V isolation`;
        // This host's build or isolation modes: another Windows host may run it.
        throw new DriverError('Unavailable', why);
      }
      ctx.progress?.(50, `creating (${verdict.isolation} isolation)`);
      const args = [
        'create',
        '--name', dockerNameOf(spec.id),
        '--isolation', verdict.isolation,
        '--cpus', String(spec.resources.vcpus),
        '--memory', `${spec.resources.memoryMiB}m`,
        '--label', `${LABEL_ID}=${spec.id}`,
        '--label', `${LABEL_TEMPLATE}=${spec.template.name}`,
        '--label', `${LABEL_DISK}=${spec.resources.diskGiB}`,
        '--pull', 'never',
        ref,
        ...commandOf(spec.template),
      ];
      try {
        await this.cli.run(args, { signal: ctx.signal, timeoutMs: 600_000 });
      } catch (error) {
        // Another call made it meanwhile (a retried job): the same spec is the same instance.
        if (!DriverError.is(error, 'Conflict')) throw error;
        const raced = await this.find(spec.id);
        if (!raced) throw error;
        return this.sameOrConflict(raced, spec);
      }
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
      const c = await this.settled(id);
      if (dockerState(c.status).state !== 'running' || c.status === 'paused') {
        await this.doStop(id, {}, ctx);
        return this.doStart(id, ctx);
      }
      await this.cli.run(['restart', '--time', String(DEFAULT_STOP_TIMEOUT_S), c.name], { signal: ctx.signal, timeoutMs: (DEFAULT_STOP_TIMEOUT_S + 600) * 1000 });
      return this.describe(await this.settled(id));
    });
  }

  /** `docker pause`: Windows pauses Hyper-V isolated containers only, so it is offered on Hyper-V-only hosts. */
  async suspend(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    this.requireSuspend();
    return this.locks.run(id, async () => {
      const c = await this.settled(id);
      if (c.status === 'paused') return this.describe(c);
      if (c.isolation !== 'hyperv') {
        throw new DriverError('Unsupported', `${id} is process-isolated: Windows pauses only Hyper-V isolated containers`);
      }
      if (c.status !== 'running') throw new DriverError('Conflict', `${id} is ${c.status}; only a running container is suspended`);
      await this.cli.run(['pause', c.name], { signal: ctx.signal });
      return this.describe(await this.settled(id));
    });
  }

  async resume(id: string, ctx: DriverContext = {}): Promise<InstanceStatus> {
    assertInstanceId(id);
    this.requireSuspend();
    return this.locks.run(id, async () => {
      const c = await this.settled(id);
      if (c.status === 'running') return this.describe(c);
      if (c.status !== 'paused') throw new DriverError('Conflict', `${id} is ${c.status}, not suspended`);
      await this.cli.run(['unpause', c.name], { signal: ctx.signal });
      return this.describe(await this.settled(id));
    });
  }

  /**
   * `docker rm -f -v`: the container and its anonymous volumes. A missing one is `NotFound`
   * (callers treat that as clean); `rm --force` itself succeeds on a missing name (docker/cli
   * 23.0 and later), so the container is looked up first, which also spares one of that name
   * that Hyperplane did not make (`Conflict`).
   */
  async destroy(id: string, ctx: DriverContext = {}): Promise<void> {
    assertInstanceId(id);
    await this.locks.run(id, async () => {
      await this.require(id);
      await this.cli.run(['rm', '--force', '--volumes', dockerNameOf(id)], { signal: ctx.signal, timeoutMs: 600_000 });
    });
  }

  async inspect(id: string): Promise<InstanceStatus> {
    assertInstanceId(id);
    return this.describe(await this.require(id));
  }

  async list(): Promise<InstanceStatus[]> {
    const rows = parsePs((await this.cli.run(['ps', '--all', '--no-trunc', '--filter', `label=${LABEL_ID}`, '--format', '{{json .}}'])).stdout);
    const out: InstanceStatus[] = [];
    for (const row of rows) {
      const id = row.labels[LABEL_ID] ?? '';
      if (!UUID_PATTERN.test(id) || row.name !== dockerNameOf(id)) continue;
      const meaning = dockerState(row.state);
      out.push({ id, state: meaning.state, technology: 'container', details: { containerId: row.id, dockerState: row.state, ...(meaning.transitional ? { transitional: true } : {}) } });
    }
    return out;
  }

  // --- internals -----------------------------------------------------------------------------

  private hostFacts(): Promise<WinHostFacts> {
    this.facts ??= readWinHostFacts(this.cli, this.opts.hostOs, this.opts.hostArch, this.modes, this.opts.pull ?? false, this.opts.templates).catch((error: unknown) => {
      this.facts = undefined;
      throw error;
    });
    return this.facts;
  }

  private checkSpec(spec: InstanceSpec): void {
    assertInstanceId(spec.id);
    assertSafeName('instance name', spec.name);
    const r = spec.resources;
    // `docker --cpus` takes fractions (0.25: a quarter of one CPU's time, as a job object CPU rate).
    if (!isWholeMilliVcpus(r.vcpus) || r.vcpus < MIN_CONTAINER_VCPUS) throw new DriverError('InvalidArgument', `vcpus must be ≥ ${MIN_CONTAINER_VCPUS} in steps of 0.001, got ${r.vcpus}`);
    if (!Number.isInteger(r.memoryMiB) || r.memoryMiB < 64) throw new DriverError('InvalidArgument', `memoryMiB must be a whole number ≥ 64, got ${r.memoryMiB}`);
    if (!Number.isInteger(r.diskGiB) || r.diskGiB < 0) throw new DriverError('InvalidArgument', `diskGiB must be a whole number ≥ 0, got ${r.diskGiB}`);
    if (spec.technology !== 'container') throw new DriverError('Unsupported', 'wincontainer runs containers; Hyper-V or QEMU run Windows VMs');
    if (spec.template.osFamily !== 'windows') throw new DriverError('Unsupported', `a Windows host runs Windows containers, not ${spec.template.osFamily} ones`);
    if (spec.arch !== 'x86_64') throw new DriverError('Unsupported', `Windows Server container images are x86_64, not ${spec.arch}`);
  }

  /** Suspend and resume only where the offer declares them (see `winCapabilities`). */
  private requireSuspend(): void {
    if (!winCapabilities(this.modes).includes('suspend')) {
      throw new DriverError('Unsupported', `this host offers ${this.modes.join(' and ')} isolation: Windows pauses only Hyper-V isolated containers, so suspend is offered on Hyper-V-only hosts`);
    }
  }

  private sameOrConflict(c: DockerContainer, spec: InstanceSpec): InstanceStatus {
    const have = resourcesOf(c);
    const same = c.labels[LABEL_TEMPLATE] === spec.template.name && have.vcpus === spec.resources.vcpus && have.memoryMiB === spec.resources.memoryMiB && have.diskGiB === spec.resources.diskGiB;
    if (!same) {
      throw new DriverError('Conflict', `${spec.id} exists with template ${c.labels[LABEL_TEMPLATE] ?? '?'} and ${fmt(have)}, not ${spec.template.name} and ${fmt(spec.resources)}`);
    }
    return this.describe(c);
  }

  private async doStart(id: string, ctx: DriverContext): Promise<InstanceStatus> {
    const c = await this.settled(id);
    if (c.status === 'running') return this.describe(c);
    if (c.status === 'paused') {
      await this.cli.run(['unpause', c.name], { signal: ctx.signal });
      return this.describe(await this.settled(id));
    }
    await this.cli.run(['start', c.name], { signal: ctx.signal, timeoutMs: 600_000 });
    const after = await this.settled(id);
    if (after.status !== 'running') {
      throw new DriverError('Fatal', `${id} stopped at once after its start (${after.status}, exit code ${after.exitCode ?? '?'})`);
    }
    return this.describe(after);
  }

  private async doStop(id: string, opts: StopOptions, ctx: DriverContext): Promise<InstanceStatus> {
    const c = await this.settled(id);
    if (dockerState(c.status).state === 'stopped') return this.describe(c);
    if (c.status === 'paused') await this.cli.run(['unpause', c.name], { signal: ctx.signal });
    if (opts.force) {
      await this.kill(id, c.name, ctx);
      return this.describe(await this.settled(id));
    }
    const timeoutS = opts.timeoutS ?? DEFAULT_STOP_TIMEOUT_S;
    try {
      // `docker stop` asks the container to shut down and terminates it after --time itself;
      // the call's own timeout covers an engine that does not come back at all.
      await this.cli.run(['stop', '--time', String(timeoutS), c.name], { signal: ctx.signal, timeoutMs: timeoutS * 1000 + (this.opts.stopGraceMs ?? 30_000) });
    } catch (error) {
      if (!DriverError.is(error, 'Transient') && !DriverError.is(error, 'Fatal')) throw error;
      await this.kill(id, c.name, ctx);
    }
    return this.describe(await this.settled(id));
  }

  private async kill(id: string, name: string, ctx: DriverContext): Promise<void> {
    try {
      await this.cli.run(['kill', name], { signal: ctx.signal });
    } catch (error) {
      // Stopped between the look and the kill: what was wanted.
      const now = await this.require(id);
      if (dockerState(now.status).state !== 'stopped') throw error;
    }
  }

  /** The container once out of any transitional state; `Transient` if it stays in one. */
  private async settled(id: string): Promise<DockerContainer> {
    const deadline = Date.now() + (this.opts.settleTimeoutMs ?? 60_000);
    let pause = 50;
    for (;;) {
      const c = await this.require(id);
      if (!dockerState(c.status).transitional) return c;
      if (Date.now() > deadline) throw new DriverError('Transient', `${id} is still ${c.status}`);
      await sleep(pause);
      pause = Math.min(pause * 2, 1000);
    }
  }

  private async require(id: string): Promise<DockerContainer> {
    const c = await this.find(id);
    if (!c) throw new DriverError('NotFound', `no instance ${id} on this host`);
    return c;
  }

  private async find(id: string): Promise<DockerContainer | null> {
    try {
      const c = parseContainerInspect((await this.cli.run(['container', 'inspect', dockerNameOf(id)], { timeoutMs: 60_000 })).stdout);
      // A container of that name not made by Hyperplane is not this instance.
      if (c.labels[LABEL_ID] !== id) throw new DriverError('Conflict', `a container named ${dockerNameOf(id)} exists that Hyperplane did not make`);
      return c;
    } catch (error) {
      if (DriverError.is(error, 'NotFound')) return null;
      throw error;
    }
  }

  private describe(c: DockerContainer): InstanceStatus {
    const meaning = dockerState(c.status);
    const id = c.labels[LABEL_ID] ?? c.name.slice(NAME_PREFIX.length);
    return {
      id,
      state: meaning.state,
      technology: 'container',
      resources: resourcesOf(c),
      details: {
        containerId: c.id,
        dockerState: c.status,
        isolation: c.isolation,
        image: c.image,
        template: c.labels[LABEL_TEMPLATE] ?? 'unknown',
        ...(meaning.transitional ? { transitional: true } : {}),
      },
    };
  }
}

function resourcesOf(c: DockerContainer): Resources {
  const disk = Number.parseInt(c.labels[LABEL_DISK] ?? '', 10);
  return { vcpus: c.cpus === null ? 0 : fromMilliVcpus(toMilliVcpus(c.cpus)), memoryMiB: c.memoryMiB ?? 0, diskGiB: Number.isNaN(disk) ? 0 : disk };
}

function fmt(r: Resources): string {
  return `${r.vcpus} vCPU/${r.memoryMiB} MiB/${r.diskGiB} GiB`;
}

/**
 * The registry's factory. `HYPERPLANE_DOCKER` names another docker binary;
 * `HYPERPLANE_DOCKER_ISOLATION` the isolation modes the host offers (`process`, `hyperv`, or
 * both, comma-separated; Hyper-V isolation needs the Hyper-V role); `HYPERPLANE_DOCKER_PULL=true`
 * offers templates whose image the host must pull first.
 */
export function createWincontainerDriver(opts: DriverOptions): WincontainerDriver {
  const docker = process.env.HYPERPLANE_DOCKER?.trim();
  const isolation = (process.env.HYPERPLANE_DOCKER_ISOLATION ?? 'process')
    .split(',')
    .map((m) => m.trim())
    .filter((m): m is WindowsIsolation => isOneOf(WINDOWS_ISOLATIONS, m));
  return new WincontainerDriver({ ...opts, ...(docker ? { docker } : {}), isolation, pull: process.env.HYPERPLANE_DOCKER_PULL === 'true' });
}
