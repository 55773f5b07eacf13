import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UUID_PATTERN } from '@hyperplane/domain';
import { CgroupLayout } from './lxc-cgroup';
import { LxcInfo, LxcListEntry, LxcState } from './lxc-tools';

/** LXC names a container's cgroup `lxc.payload.<name>` under the hierarchy root when root starts it. */
export const PAYLOAD_PREFIX = 'lxc.payload.';
/** sizeof(sockaddr_un.sun_path) minus the leading NUL of an abstract name and the trailing one. */
const ABSTRACT_NAME_MAX = 106;
const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const U64 = 0xffffffffffffffffn;

/**
 * The abstract socket a container's monitor listens on while the container exists (what
 * lxc-info connects to): `<lxcpath>/<name>/command`, or `lxc/<fnv1a-64 of "<lxcpath>/<name>">/command`
 * when that does not fit in a socket address (liblxc's lxc_make_abstract_socket_name).
 */
export function commandSocketName(lxcPath: string, name: string): string {
  const plain = `${lxcPath}/${name}/command`;
  if (Buffer.byteLength(plain) < ABSTRACT_NAME_MAX) return plain;
  let hash = FNV64_OFFSET;
  for (const byte of Buffer.from(`${lxcPath}/${name}`)) hash = ((hash ^ BigInt(byte)) * FNV64_PRIME) & U64;
  return `lxc/${hash.toString(16).padStart(16, '0')}/command`;
}

/** The abstract unix socket names in /proc/net/unix (without the leading `@`). */
export function parseAbstractSockets(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    // Num RefCount Protocol Flags Type St Inode Path: the path is the 8th field and may hold spaces.
    const at = line.indexOf(' @');
    if (at < 0) continue;
    names.add(line.slice(at + 2).trimEnd());
  }
  return names;
}

/** The state a payload cgroup shows: v1 `freezer.state`, v2 `cgroup.events`; undefined when it cannot tell. */
export function stateFromCgroup(version: CgroupLayout['version'], text: string): LxcState | undefined {
  if (version === 'v1') {
    const state = text.trim();
    return state === 'THAWED' ? 'RUNNING' : state === 'FROZEN' || state === 'FREEZING' ? state : undefined;
  }
  const field = (key: string) => new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1];
  if (field('frozen') === '1') return 'FROZEN';
  // Not populated with a live monitor: starting or stopping; lxc-info says which.
  return field('populated') === '1' ? 'RUNNING' : undefined;
}

/** The path of a process's cgroup in the hierarchy that holds `controller` (v2: `0::`), from /proc/<pid>/cgroup. */
export function cgroupOfProcess(text: string, version: CgroupLayout['version'], controller: string): string | undefined {
  for (const line of text.split('\n')) {
    const [id, controllers = '', path] = line.split(':');
    if (path === undefined) continue;
    if (version === 'v2' ? id === '0' && controllers === '' : controllers.split(',').includes(controller)) return path.replace(/^\/+/, '');
  }
  return undefined;
}

export interface LxcStateReaderOptions {
  lxcPath: string;
  layout: () => Promise<CgroupLayout>;
  /** One container's state the slow way (lxc-info): only when the files cannot tell. */
  info: (name: string) => Promise<LxcInfo | undefined>;
  procRoot?: string;
  /** Files read at once. */
  concurrency?: number;
}

/**
 * Reads every container's state from the kernel in one pass, without a process per container:
 * which monitors are alive from /proc/net/unix (one read), then each live one's freezer state
 * from its cgroup. A container whose cgroup is not where LXC puts it by default is asked once
 * with lxc-info, and the cgroup its init is in is remembered for the next passes.
 */
export class LxcStateReader {
  private readonly procRoot: string;
  private readonly concurrency: number;
  /** Container name → its cgroup path inside the hierarchy, when not the default. */
  private readonly learned = new Map<string, string>();

  constructor(private readonly opts: LxcStateReaderOptions) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.concurrency = opts.concurrency ?? 16;
  }

  /** Containers of this lxcpath (directories with a config, named by instance id) and their states. */
  async list(): Promise<LxcListEntry[]> {
    const dirs = await readdir(this.opts.lxcPath, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [];
      throw e;
    });
    const names = dirs.filter((d) => d.isDirectory() && UUID_PATTERN.test(d.name)).map((d) => d.name);
    const [layout, sockets] = await Promise.all([this.opts.layout(), readFile(join(this.procRoot, 'net', 'unix'), 'utf8').then(parseAbstractSockets)]);
    const entries = new Array<LxcListEntry | undefined>(names.length);
    await eachLimited(names.length, this.concurrency, async (i) => {
      const name = names[i]!;
      if (!(await fileExists(join(this.opts.lxcPath, name, 'config')))) return;
      entries[i] = await this.stateOf(name, layout, sockets);
    });
    for (const name of this.learned.keys()) if (!names.includes(name)) this.learned.delete(name);
    return entries.filter((e): e is LxcListEntry => e !== undefined);
  }

  /**
   * Values of cgroup files of a running container, read directly (what `lxc-cgroup -n <name> <key>`
   * prints). Undefined when its cgroup is not found: the caller asks LXC instead.
   */
  async cgroupValues(name: string, keys: string[]): Promise<Map<string, string> | undefined> {
    const layout = await this.opts.layout();
    const rel = this.learned.get(name) ?? `${PAYLOAD_PREFIX}${name}`;
    const dirOf = (key: string): string | undefined => {
      const mount = layout.version === 'v2' ? layout.mounts?.unified : layout.mounts?.[key.split('.')[0] ?? ''];
      return mount ? join(mount, rel) : undefined;
    };
    const probe = layout.version === 'v2' ? dirOf('cgroup.procs') : dirOf('memory.x') ?? dirOf('pids.x');
    if (!probe || !(await fileExists(probe))) return undefined;
    const values = new Map<string, string>();
    await Promise.all(
      keys.map(async (key) => {
        const dir = dirOf(key);
        if (!dir) return;
        const value = await readFile(join(dir, key), 'utf8').catch(() => undefined);
        if (value !== undefined) values.set(key, value.trim());
      }),
    );
    return values;
  }

  private async stateOf(name: string, layout: CgroupLayout, sockets: Set<string>): Promise<LxcListEntry | undefined> {
    const file = this.stateFile(layout, this.learned.get(name) ?? `${PAYLOAD_PREFIX}${name}`);
    const text = file ? await readFile(file, 'utf8').catch(() => undefined) : undefined;
    const state = text !== undefined ? stateFromCgroup(layout.version, text) : undefined;
    if (!sockets.has(commandSocketName(this.opts.lxcPath, name))) {
      // No monitor and no cgroup: what lxc-info reports as STOPPED. A cgroup without a monitor we
      // can see means we may not see the sockets at all (another network namespace): ask LXC.
      if (!state) return { name, state: 'STOPPED' };
    } else if (state) {
      return { name, state };
    }
    const info = await this.opts.info(name).catch(async (error: unknown) => {
      // Destroyed while we looked: gone, not a reason to give up on the whole pass.
      if (!(await fileExists(join(this.opts.lxcPath, name, 'config')))) return undefined;
      throw error;
    });
    if (!info) return undefined;
    if (info.pid !== undefined && info.state !== 'STOPPED') {
      const cgroup = await readFile(join(this.procRoot, String(info.pid), 'cgroup'), 'utf8').catch(() => '');
      const rel = cgroupOfProcess(cgroup, layout.version, 'freezer');
      if (rel) this.learned.set(name, rel);
    }
    return { name, ...info };
  }

  private stateFile(layout: CgroupLayout, rel: string): string | undefined {
    if (layout.version === 'v2') return layout.mounts?.unified ? join(layout.mounts.unified, rel, 'cgroup.events') : undefined;
    return layout.mounts?.freezer ? join(layout.mounts.freezer, rel, 'freezer.state') : undefined;
  }
}

function fileExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Runs `work(i)` for i in [0, n) with at most `width` at once. */
async function eachLimited(n: number, width: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}
