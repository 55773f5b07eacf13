import { NAME_PATTERN } from '@hyperplane/domain';
import { ActualState } from '../driver';
import { DriverError } from '../driver.exception';
import { runCommand, RunResult } from '../exec/run-command';

export const LXC_STATES = ['STOPPED', 'STARTING', 'RUNNING', 'STOPPING', 'ABORTING', 'FREEZING', 'FROZEN', 'THAWED'] as const;
export type LxcState = (typeof LXC_STATES)[number];

export interface LxcInfo {
  state: LxcState;
  pid?: number;
}

export interface LxcListEntry extends LxcInfo {
  name: string;
}

export interface LxcSnapshotEntry {
  /** LXC's own name: snap0, snap1, … */
  lxcName: string;
  createdAt: string;
  comment: string;
}

/** The lxc-* tools for one lxcpath. Every call passes `-P`, runs without a shell and has a timeout. */
export class LxcTools {
  constructor(readonly lxcPath: string) {}

  async version(): Promise<string> {
    const { stdout } = await runCommand('lxc-start', ['--version'], { timeoutMs: 10_000 });
    return stdout.trim();
  }

  /** The container's state, or undefined when LXC does not know it. */
  async info(id: string): Promise<LxcInfo | undefined> {
    const result = await this.run('lxc-info', ['-n', id, '-s', '-p'], { timeoutMs: 15_000, okCodes: [0, 1] });
    if (result.code !== 0) {
      if (/doesn't exist|does not exist/.test(result.stderr + result.stdout)) return undefined;
      throw new DriverError('Fatal', `lxc-info ${id} failed: ${result.stderr.trim()}`);
    }
    return parseLxcInfo(result.stdout);
  }

  async list(): Promise<LxcListEntry[]> {
    const { stdout } = await this.run('lxc-ls', ['--fancy', '--fancy-format', 'NAME,STATE,PID'], { timeoutMs: 30_000 });
    return parseLxcLs(stdout);
  }

  async start(id: string, signal?: AbortSignal): Promise<void> {
    await this.run('lxc-start', ['-n', id, '-d'], { timeoutMs: 60_000, signal });
  }

  /** Waits for one of `states`; false when the timeout passed first. */
  async wait(id: string, states: LxcState[], timeoutS: number): Promise<boolean> {
    const result = await this.run('lxc-wait', ['-n', id, '-s', states.join('|'), '-t', String(timeoutS)], {
      timeoutMs: (timeoutS + 10) * 1000,
      okCodes: [0, 1],
    });
    return result.code === 0;
  }

  /** Graceful stop: the halt signal, then LXC itself kills after `timeoutS`. Exit 2 = was not running. */
  async stop(id: string, timeoutS: number): Promise<void> {
    await this.run('lxc-stop', ['-n', id, '-t', String(timeoutS)], { timeoutMs: (timeoutS + 30) * 1000, okCodes: [0, 2] });
  }

  async kill(id: string): Promise<void> {
    await this.run('lxc-stop', ['-n', id, '-k'], { timeoutMs: 30_000, okCodes: [0, 2] });
  }

  async freeze(id: string): Promise<void> {
    await this.run('lxc-freeze', ['-n', id], { timeoutMs: 30_000 });
  }

  async unfreeze(id: string): Promise<void> {
    await this.run('lxc-unfreeze', ['-n', id], { timeoutMs: 30_000 });
  }

  /** Removes a stopped container with its snapshots (with -s LXC refuses a running one, even with -f). */
  async destroy(id: string): Promise<void> {
    await this.run('lxc-destroy', ['-n', id, '-f', '-s'], { timeoutMs: 120_000 });
  }

  /** A value from the running container's cgroup, or undefined when the file is not there. */
  async cgroupGet(id: string, key: string): Promise<string | undefined> {
    const result = await this.run('lxc-cgroup', ['-n', id, '--', key], { timeoutMs: 10_000, okCodes: [0, 1] });
    return result.code === 0 ? result.stdout.trim() : undefined;
  }

  async cgroupSet(id: string, key: string, value: string): Promise<void> {
    // `--`: values such as -1 are not options.
    await this.run('lxc-cgroup', ['-n', id, '--', key, value], { timeoutMs: 10_000 });
  }

  async snapshotCreate(id: string, commentFile: string): Promise<void> {
    await this.run('lxc-snapshot', ['-n', id, '-c', commentFile], { timeoutMs: 600_000 });
  }

  /**
   * A copy of a running container as snapshot `lxcName` in `snapDir` (lxc-snapshot's own layout),
   * keeping its hostname and MAC: what lxc-snapshot does, which refuses a running container. The
   * caller freezes the container first so that the copy is one moment of it.
   */
  async copyAsSnapshot(id: string, snapDir: string, lxcName: string): Promise<void> {
    await this.run('lxc-copy', ['-n', id, '-p', snapDir, '-N', lxcName, '-K', '-M', '-a'], { timeoutMs: 600_000 });
  }

  async snapshotList(id: string): Promise<LxcSnapshotEntry[]> {
    const { stdout } = await this.run('lxc-snapshot', ['-n', id, '-L', '-C'], { timeoutMs: 30_000 });
    return parseSnapshotList(stdout);
  }

  async snapshotRestore(id: string, lxcName: string): Promise<void> {
    await this.run('lxc-snapshot', ['-n', id, '-r', lxcName], { timeoutMs: 600_000 });
  }

  async snapshotDestroy(id: string, lxcName: string): Promise<void> {
    await this.run('lxc-snapshot', ['-n', id, '-d', lxcName], { timeoutMs: 120_000 });
  }

  private run(tool: string, args: string[], opts: Parameters<typeof runCommand>[2]): Promise<RunResult> {
    return runCommand(tool, ['-P', this.lxcPath, ...args], opts);
  }
}

/** `lxc-info -s -p`: "State:          RUNNING" and "PID:            9607". */
export function parseLxcInfo(stdout: string): LxcInfo {
  const state = /^State:\s+(\S+)/m.exec(stdout)?.[1];
  if (!isLxcState(state)) throw new DriverError('Fatal', `unexpected lxc-info output: ${stdout.trim().slice(0, 200)}`);
  const pid = /^PID:\s+(\d+)/m.exec(stdout)?.[1];
  return pid ? { state, pid: Number(pid) } : { state };
}

/** `lxc-ls --fancy --fancy-format NAME,STATE,PID`: a header line, then one row per container. */
export function parseLxcLs(stdout: string): LxcListEntry[] {
  const entries: LxcListEntry[] = [];
  for (const line of stdout.split('\n').slice(1)) {
    const [name, state, pid] = line.trim().split(/\s+/);
    if (!name || !isLxcState(state)) continue;
    entries.push(pid && /^\d+$/.test(pid) ? { name, state, pid: Number(pid) } : { name, state });
  }
  return entries;
}

/** `lxc-snapshot -L -C`: "snap0 (/path/snaps) 2026:11:26 00:57:53" followed by comment lines. */
export function parseSnapshotList(stdout: string): LxcSnapshotEntry[] {
  const entries: LxcSnapshotEntry[] = [];
  const header = /^(\S+) \((.*)\) (\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)$/;
  for (const line of stdout.split('\n')) {
    const m = header.exec(line);
    if (m) {
      const [y, mo, d, h, mi, s] = m.slice(3).map(Number) as [number, number, number, number, number, number];
      // lxc-snapshot writes local time.
      entries.push({ lxcName: m[1] ?? '', createdAt: new Date(y, mo - 1, d, h, mi, s).toISOString(), comment: '' });
      continue;
    }
    const last = entries[entries.length - 1];
    if (last && line.trim()) last.comment = last.comment ? `${last.comment}\n${line.trim()}` : line.trim();
  }
  return entries;
}

export function actualState(state: LxcState): ActualState {
  switch (state) {
    case 'RUNNING':
    case 'STARTING':
    case 'THAWED':
      return 'running';
    case 'FROZEN':
    case 'FREEZING':
      return 'suspended';
    case 'STOPPED':
    case 'STOPPING':
    case 'ABORTING':
      return 'stopped';
  }
}

/** The driver's name for a snapshot is its comment; one made outside the driver shows LXC's name. */
export function snapshotName(entry: LxcSnapshotEntry): string {
  return NAME_PATTERN.test(entry.comment) ? entry.comment : entry.lxcName;
}

function isLxcState(value: string | undefined): value is LxcState {
  return (LXC_STATES as readonly string[]).includes(value ?? '');
}
