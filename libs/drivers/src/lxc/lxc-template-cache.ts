import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Arch, Technology, TemplateSpec } from '@hyperplane/domain';
import { DriverContext } from '../driver';
import { DriverError } from '../driver.exception';
import { runCommand } from '../exec/run-command';
import { DebootstrapProgress } from './debootstrap-progress';
import { buildBusyboxRootfs, isStaticElf } from './lxc-busybox-rootfs';
import { BootConfig } from './lxc-config';
import { isReadable, which } from './lxc-host';
import { KeyedMutex, withFileLock } from './lxc-lock';

export type TemplateKind = 'busybox' | 'tiny-linux' | 'debian';

export interface TemplateRecipe {
  /** The cache entry's directory name, e.g. busybox-x86_64, debian-12-x86_64. */
  key: string;
  kind: TemplateKind;
  boot: BootConfig;
  buildTimeoutMs: number;
}

export interface TemplateManifest {
  key: string;
  kind: TemplateKind;
  arch: Arch;
  buildId: string;
  builtAt: string;
  builtWith: string;
}

export interface CachedTemplate {
  rootfs: string;
  manifest: TemplateManifest;
}

export interface TemplateSources {
  busybox?: string;
  debootstrap?: string;
}

export interface TemplateCacheOptions {
  dir: string;
  hostArch: Arch;
  debianMirror: string;
  /** Where LXC keeps its stock config snippets. */
  lxcConfigDir?: string;
  busyboxPath?: string;
  /** debootstrap to use instead of the one on the PATH (tests give a fake). */
  debootstrapPath?: string;
}

const DEBIAN_SUITES: Record<string, string> = { '12': 'bookworm', bookworm: 'bookworm' };
const DEBOOTSTRAP_ARCH: Record<Arch, string> = { x86_64: 'amd64', arm64: 'arm64' };
/** The part of a driver's create a template build takes, in percent (copying the rootfs follows at 60). */
export const BUILD_SPAN: readonly [number, number] = [20, 58];
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/sbin/busybox', '/usr/sbin/busybox'];

/**
 * Root filesystems built once per template and host architecture, then copied into each new
 * container. A build goes into a temporary directory renamed into place when complete, under a
 * lock shared with other processes, so a cache entry is either whole or absent.
 */
export class LxcTemplateCache {
  private readonly mutex = new KeyedMutex();
  private sourcesOnce?: Promise<TemplateSources>;
  private readonly lxcConfigDir: string;

  constructor(private readonly opts: TemplateCacheOptions) {
    this.lxcConfigDir = opts.lxcConfigDir ?? '/usr/share/lxc/config';
  }

  get dir(): string {
    return this.opts.dir;
  }

  get hostArch(): Arch {
    return this.opts.hostArch;
  }

  /** Host tools templates are built from; looked up once. */
  sources(): Promise<TemplateSources> {
    this.sourcesOnce ??= findSources(this.opts.busyboxPath, this.opts.debootstrapPath);
    return this.sourcesOnce;
  }

  /** Distributions this host can build, as a probe reports them. */
  async distributions(): Promise<Record<string, string[]>> {
    const { busybox, debootstrap } = await this.sources();
    return {
      ...(busybox ? { busybox: ['*'], 'tiny-linux': ['*'] } : {}),
      ...(debootstrap ? { debian: ['12'] } : {}),
    };
  }

  /** How to build `template` here; `DriverError('Unsupported')` when it cannot be. */
  async resolve(template: TemplateSpec, arch: Arch, technology: Technology): Promise<TemplateRecipe> {
    const refuse = (why: string) => new DriverError('Unsupported', `lxc cannot run template ${template.name}: ${why}`);
    if (technology !== 'container') throw refuse(`technology ${technology} is not container`);
    if (template.osFamily !== 'linux') throw refuse(`os ${template.osFamily} is not linux`);
    if (!template.technologies.includes('container')) throw refuse('the template is not for containers');
    if (arch !== this.opts.hostArch || !template.archs.includes(arch)) throw refuse(`arch ${arch} is not the host's ${this.opts.hostArch}`);
    const sources = await this.sources();
    const key = (name: string) => `${name}-${this.opts.hostArch}`;
    switch (template.distribution) {
      case 'busybox':
      case 'tiny-linux': {
        // A missing build tool is this host's lack (host-specific): another host may have it.
        if (!sources.busybox) throw new DriverError('Unavailable', `lxc cannot build ${template.name} here: no statically linked busybox (install busybox-static)`);
        const boot = { init: '/sbin/init', haltSignal: 'SIGUSR2', rebootSignal: 'SIGTERM', includes: await this.includes('common.conf') };
        return { key: key(template.distribution), kind: template.distribution, boot, buildTimeoutMs: 120_000 };
      }
      case 'debian': {
        if (!DEBIAN_SUITES[template.version]) throw refuse(`debian ${template.version} is not supported (only 12)`);
        if (!sources.debootstrap) throw new DriverError('Unavailable', `lxc cannot build ${template.name} here: debootstrap is not installed`);
        const boot = { init: '/sbin/init', haltSignal: 'SIGRTMIN+3', rebootSignal: 'SIGTERM', includes: await this.includes('debian.common.conf', 'common.conf') };
        return { key: key('debian-12'), kind: 'debian', boot, buildTimeoutMs: 30 * 60_000 };
      }
      default:
        throw refuse(`distribution ${template.distribution} is unknown (busybox, tiny-linux, debian)`);
    }
  }

  /** The cached root filesystem for `recipe`, built first if this is its first use. */
  async ensure(recipe: TemplateRecipe, ctx: DriverContext = {}): Promise<CachedTemplate> {
    const entry = join(this.opts.dir, recipe.key);
    const cached = await readManifest(entry);
    if (cached) return { rootfs: join(entry, 'rootfs'), manifest: cached };
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
    return this.mutex.run(recipe.key, () =>
      withFileLock(
        join(this.opts.dir, `.${recipe.key}.lock`),
        async () => {
          const built = await readManifest(entry);
          if (built) return { rootfs: join(entry, 'rootfs'), manifest: built };
          // Builds only run under this lock: older build directories are from a crashed process.
          for (const stale of (await readdir(this.opts.dir)).filter((f) => f.startsWith(`.build-${recipe.key}-`))) {
            await rm(join(this.opts.dir, stale), { recursive: true, force: true });
          }
          ctx.progress?.(BUILD_SPAN[0], `building template ${recipe.key}`);
          const staging = await mkdtemp(join(this.opts.dir, `.build-${recipe.key}-`));
          try {
            const manifest = await this.build(recipe, staging, ctx);
            await writeFile(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
            await rename(staging, entry);
            return { rootfs: join(entry, 'rootfs'), manifest };
          } catch (error) {
            await rm(staging, { recursive: true, force: true });
            throw error;
          }
        },
        { timeoutMs: recipe.buildTimeoutMs + 60_000, signal: ctx.signal },
      ),
    );
  }

  /** A new container rootfs at `dest` (which must not exist): a copy, reflinked where the filesystem can. */
  async copyRootfs(cached: CachedTemplate, dest: string, signal?: AbortSignal): Promise<void> {
    await runCommand('cp', ['-a', '--reflink=auto', '--', cached.rootfs, dest], { timeoutMs: 15 * 60_000, signal });
  }

  private async build(recipe: TemplateRecipe, staging: string, ctx: DriverContext): Promise<TemplateManifest> {
    const sources = await this.sources();
    const rootfs = join(staging, 'rootfs');
    const buildId = randomUUID();
    let builtWith: string;
    if (recipe.kind === 'debian') {
      const debootstrap = sources.debootstrap ?? 'debootstrap';
      // A first build takes a minute or more: say what debootstrap does, within the build's span.
      const progress = new DebootstrapProgress();
      const [from, to] = BUILD_SPAN;
      await runCommand(
        debootstrap,
        ['--variant=minbase', '--include=systemd-sysv,iproute2', `--arch=${DEBOOTSTRAP_ARCH[this.opts.hostArch]}`, 'bookworm', rootfs, this.opts.debianMirror],
        {
          timeoutMs: recipe.buildTimeoutMs,
          signal: ctx.signal,
          onLine: (line) => {
            const p = progress.feed(line);
            if (p) ctx.progress?.(from + ((to - from) * p.percent) / 100, `building ${recipe.key}: ${p.step}`);
          },
        },
      );
      await prepareDebianRootfs(rootfs, buildId);
      builtWith = `debootstrap bookworm ${this.opts.debianMirror}`;
    } else {
      await mkdir(rootfs, { mode: 0o755 });
      await buildBusyboxRootfs(rootfs, { busybox: sources.busybox ?? '', flavour: recipe.kind, buildId, signal: ctx.signal });
      builtWith = sources.busybox ?? '';
    }
    return { key: recipe.key, kind: recipe.kind, arch: this.opts.hostArch, buildId, builtAt: new Date().toISOString(), builtWith };
  }

  /** The first of `files` LXC ships on this host, as an include (none when LXC has none). */
  private async includes(...files: string[]): Promise<string[]> {
    for (const file of files) if (await isReadable(join(this.lxcConfigDir, file))) return [join(this.lxcConfigDir, file)];
    return [];
  }
}

/** Makes a debootstrapped tree fit to be copied into many containers. */
async function prepareDebianRootfs(rootfs: string, buildId: string): Promise<void> {
  // Every copy gets its own machine id at first boot; LXC sets the hostname.
  await writeFile(join(rootfs, 'etc/machine-id'), '');
  await rm(join(rootfs, 'etc/hostname'), { force: true });
  await rm(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
  await mkdir(join(rootfs, 'etc/systemd/network'), { recursive: true });
  await writeFile(join(rootfs, 'etc/systemd/network/20-eth0.network'), '[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n');
  await mkdir(join(rootfs, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  await symlink('/lib/systemd/system/systemd-networkd.service', join(rootfs, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service')).catch(
    () => undefined,
  );
  await writeFile(join(rootfs, 'etc/hyperplane-template'), `${JSON.stringify({ distribution: 'debian', buildId })}\n`);
}

async function readManifest(entry: string): Promise<TemplateManifest | undefined> {
  try {
    return JSON.parse(await readFile(join(entry, 'manifest.json'), 'utf8')) as TemplateManifest;
  } catch {
    return undefined;
  }
}

async function findSources(busyboxPath?: string, debootstrapPath?: string): Promise<TemplateSources> {
  let busybox: string | undefined;
  for (const candidate of busyboxPath ? [busyboxPath] : BUSYBOX_CANDIDATES) {
    if (await isStaticElf(candidate)) {
      busybox = candidate;
      break;
    }
  }
  return { busybox, debootstrap: debootstrapPath ?? (await which('debootstrap')) };
}
