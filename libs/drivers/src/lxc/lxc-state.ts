import { constants } from 'node:fs';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UUID_PATTERN } from '@hyperplane/domain';
import { DriverError } from '../driver.exception';
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

/**
 * Whether /proc/<pid>/status is that of a live init of a pid namespace one level below ours:
 * `NSpid: <our pid> 1` (a container's init), not a zombie.
 */
export function isContainerInit(status: string): boolean {
  const nspid = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
  const state = /^State:\s+(\S)/m.exec(status)?.[1];
  return nspid?.length === 2 && nspid[1] === '1' && state !== undefined && state !== 'Z' && state !== 'X';
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
  /**
   * Reads and writes of the freezer's files: the kernel's own by default. Tests put a model of the
   * kernel here (a plain file cannot go from FREEZING to FROZEN by itself).
   */
  freezerFiles?: FreezerFiles;
}

export interface FreezerFiles {
  read(path: string): Promise<string>;
  write(path: string, value: string): Promise<void>;
}

/** The freezer files as the kernel has them: written like `echo FROZEN > freezer.state`, never created. */
const KERNEL_FILES: FreezerFiles = {
  read: (path) => readFile(path, 'utf8'),
  write: (path, value) => writeFile(path, value, { flag: constants.O_WRONLY | constants.O_TRUNC }),
};

/** A freezer that cannot be written through its file (not there, not ours): the caller asks LXC. */
const NOT_WRITABLE = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS']);
/** Polls of a freezer that is still FREEZING: 1, 2, 4 … ms, then every MAX_POLL_MS. */
const MAX_POLL_MS = 50;
/** The cgroup.procs entries looked at for the container's init (it is nearly always the first). */
const INIT_CANDIDATES = 16;

/**
 * Reads every container's state from the kernel in one pass, without a process per container:
 * which monitors are alive from /proc/net/unix (one read), then each live one's freezer state
 * from its cgroup. A container whose cgroup is not where LXC puts it by default is asked once
 * with lxc-info, and the cgroup its init is in is remembered for the next passes.
 */
export class LxcStateReader {
  private readonly procRoot: string;
  private readonly concurrency: number;
  private readonly files: FreezerFiles;
  /** Container name → its cgroup path inside the hierarchy, when not the default. */
  private readonly learned = new Map<string, string>();
  /** Container name → the pid of its init last seen (checked again before each use). */
  private readonly inits = new Map<string, number>();

  constructor(private readonly opts: LxcStateReaderOptions) {
    this.procRoot = opts.procRoot ?? '/proc';
    this.concurrency = opts.concurrency ?? 16;
    this.files = opts.freezerFiles ?? KERNEL_FILES;
  }

  /**
   * One container's state and init pid, what `lxc-info -s -p` prints, or undefined when LXC does
   * not know it. From the files when they tell: its monitor is alive, its freezer has a state and
   * a live init is in its cgroup; else (starting, stopping, cgroup not found) from lxc-info.
   */
  async info(name: string): Promise<LxcInfo | undefined> {
    const [layout, sockets] = await Promise.all([this.opts.layout(), this.sockets()]);
    const entry = await this.stateOf(name, layout, sockets);
    if (!entry) return undefined;
    const { name: _name, ...info } = entry;
    if (info.state === 'STOPPED' || info.pid !== undefined) return info;
    const pid = await this.initOf(name, layout);
    if (pid !== undefined) return { ...info, pid };
    const asked = await this.ask(name, layout);
    return asked && { state: asked.state, ...(asked.pid !== undefined ? { pid: asked.pid } : {}) };
  }

  /**
   * Freezes (or thaws) a running container by writing its freezer file — v1 `freezer.state`
   * FROZEN / THAWED, v2 `cgroup.freeze` 1 / 0 — and waits until the kernel reports it done (v1
   * reads FREEZING until every task is frozen; v2 `cgroup.events` says `frozen 1`). False when
   * there is no such file to write (layout unknown, cgroup not found): the caller asks LXC. A
   * freeze that does not finish in time is undone and reported as Transient.
   */
  async setFrozen(name: string, frozen: boolean, timeoutMs: number): Promise<boolean> {
    const layout = await this.opts.layout();
    const rel = this.relOf(name);
    const control = this.freezeFile(layout, rel);
    const state = this.stateFile(layout, rel);
    if (!control || !state) return false;
    const value = layout.version === 'v1' ? (frozen ? 'FROZEN' : 'THAWED') : frozen ? '1' : '0';
    try {
      await this.files.write(control, value);
    } catch (error) {
      if (NOT_WRITABLE.has((error as NodeJS.ErrnoException).code ?? '')) return false;
      throw error;
    }
    const done = (text: string) => (layout.version === 'v1' ? text.trim() === value : new RegExp(`^frozen ${value}$`, 'm').test(text));
    const deadline = Date.now() + timeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, MAX_POLL_MS)) {
      const now = await this.files.read(state).catch((error: NodeJS.ErrnoException) => {
        // Its cgroup went away under us: the container stopped.
        throw new DriverError('Transient', `${name}: cannot read ${state} (${error.code ?? error.message}); did it stop?`);
      });
      if (done(now)) return true;
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(delay, left));
      // As lxc-freeze does: writing FROZEN again reaches tasks forked while the freeze went on.
      if (layout.version === 'v1' && frozen) await this.files.write(control, value);
    }
    const action = frozen ? 'freeze' : 'thaw';
    if (frozen) await this.files.write(control, layout.version === 'v1' ? 'THAWED' : '0').catch(() => undefined);
    throw new DriverError('Transient', `${name} did not ${action} within ${timeoutMs} ms (${control})${frozen ? '; thawed it again' : ''}`);
  }

  /** Containers of this lxcpath (directories with a config, named by instance id) and their states. */
  async list(): Promise<LxcListEntry[]> {
    const dirs = await readdir(this.opts.lxcPath, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [];
      throw e;
    });
    const names = dirs.filter((d) => d.isDirectory() && UUID_PATTERN.test(d.name)).map((d) => d.name);
    const [layout, sockets] = await Promise.all([this.opts.layout(), this.sockets()]);
    const entries = new Array<LxcListEntry | undefined>(names.length);
    await eachLimited(names.length, this.concurrency, async (i) => {
      const name = names[i]!;
      if (!(await fileExists(join(this.opts.lxcPath, name, 'config')))) return;
      entries[i] = await this.stateOf(name, layout, sockets);
    });
    for (const name of this.learned.keys()) if (!names.includes(name)) this.learned.delete(name);
    for (const name of this.inits.keys()) if (!names.includes(name)) this.inits.delete(name);
    return entries.filter((e): e is LxcListEntry => e !== undefined);
  }

  /**
   * Values of cgroup files of a running container, read directly (what `lxc-cgroup -n <name> <key>`
   * prints). Undefined when its cgroup is not found: the caller asks LXC instead.
   */
  async cgroupValues(name: string, keys: string[]): Promise<Map<string, string> | undefined> {
    const layout = await this.opts.layout();
    const rel = this.relOf(name);
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
    const file = this.stateFile(layout, this.relOf(name));
    const text = file ? await readFile(file, 'utf8').catch(() => undefined) : undefined;
    const state = text !== undefined ? stateFromCgroup(layout.version, text) : undefined;
    if (!sockets.has(commandSocketName(this.opts.lxcPath, name))) {
      // No monitor and no cgroup: what lxc-info reports as STOPPED. A cgroup without a monitor we
      // can see means we may not see the sockets at all (another network namespace): ask LXC.
      if (!state) return { name, state: 'STOPPED' };
    } else if (state) {
      return { name, state };
    }
    return this.ask(name, layout);
  }

  /** lxc-info, remembering where the init's cgroup is (and the init) for the next reads. */
  private async ask(name: string, layout: CgroupLayout): Promise<LxcListEntry | undefined> {
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
      this.inits.set(name, info.pid);
    }
    return { name, ...info };
  }

  /**
   * The pid of the container's init from the files: the one last seen if it still is a live init
   * in the container's cgroup, else the init among the processes of that cgroup. Undefined when
   * there is none (starting, stopping, an init in a child cgroup or sharing our pid namespace).
   */
  private async initOf(name: string, layout: CgroupLayout): Promise<number | undefined> {
    const rel = this.relOf(name);
    const known = this.inits.get(name);
    if (known !== undefined) {
      const [status, cgroup] = await Promise.all([this.proc(known, 'status'), this.proc(known, 'cgroup')]);
      const at = cgroupOfProcess(cgroup, layout.version, 'freezer');
      if (isContainerInit(status) && (at === rel || at?.startsWith(`${rel}/`))) return known;
      this.inits.delete(name);
    }
    const dir = this.freezerDir(layout, rel);
    const procs = dir ? await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '') : '';
    for (const pid of procs.split('\n').filter(Boolean).slice(0, INIT_CANDIDATES).map(Number)) {
      if (Number.isInteger(pid) && isContainerInit(await this.proc(pid, 'status'))) {
        this.inits.set(name, pid);
        return pid;
      }
    }
    return undefined;
  }

  private proc(pid: number, file: string): Promise<string> {
    return readFile(join(this.procRoot, String(pid), file), 'utf8').catch(() => '');
  }

  private sockets(): Promise<Set<string>> {
    return readFile(join(this.procRoot, 'net', 'unix'), 'utf8').then(parseAbstractSockets);
  }

  private relOf(name: string): string {
    return this.learned.get(name) ?? `${PAYLOAD_PREFIX}${name}`;
  }

  /** The container's cgroup directory in the hierarchy that freezes it: v1 freezer, v2 unified. */
  private freezerDir(layout: CgroupLayout, rel: string): string | undefined {
    const mount = layout.version === 'v2' ? layout.mounts?.unified : layout.mounts?.freezer;
    return mount ? join(mount, rel) : undefined;
  }

  /** The file that says whether it is frozen: v1 `freezer.state`, v2 `cgroup.events`. */
  private stateFile(layout: CgroupLayout, rel: string): string | undefined {
    const dir = this.freezerDir(layout, rel);
    return dir && join(dir, layout.version === 'v2' ? 'cgroup.events' : 'freezer.state');
  }

  /** The file that freezes it: v1 `freezer.state`, v2 `cgroup.freeze`. */
  private freezeFile(layout: CgroupLayout, rel: string): string | undefined {
    const dir = this.freezerDir(layout, rel);
    return dir && join(dir, layout.version === 'v2' ? 'cgroup.freeze' : 'freezer.state');
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
