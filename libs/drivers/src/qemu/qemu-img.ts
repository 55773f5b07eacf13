import { runCommand } from '../exec/run-command';
import { DriverError } from '../driver.exception';

export interface QcowSnapshot {
  id: string;
  name: string;
  /** Bytes of saved RAM and device state; 0 for a disk-only snapshot. */
  vmStateSize: number;
  createdAt: string;
}

export interface ImageInfo {
  filename: string;
  format: string;
  virtualSize: number;
  backingFile?: string;
  snapshots: QcowSnapshot[];
}

interface RawInfo {
  filename?: string;
  format?: string;
  'virtual-size'?: number;
  'full-backing-filename'?: string;
  'backing-filename'?: string;
  snapshots?: { id?: string; name?: string; 'vm-state-size'?: number; 'date-sec'?: number; 'date-nsec'?: number }[];
}

export const GiB = 1024 ** 3;

/** `qemu-img`, by argument vector. Image paths reach it already confined and absolute. */
export class QemuImg {
  constructor(
    readonly binary = 'qemu-img',
    private readonly timeoutMs = 120_000,
  ) {}

  async version(): Promise<string> {
    const { stdout } = await runCommand(this.binary, ['--version'], { timeoutMs: 10_000 });
    return /version\s+(\S+)/.exec(stdout)?.[1] ?? stdout.split('\n')[0]?.trim() ?? 'unknown';
  }

  /** `forceShare` (-U) reads an image a running QEMU holds open and locked. */
  async info(path: string, opts: { forceShare?: boolean; signal?: AbortSignal } = {}): Promise<ImageInfo> {
    const args = ['info', '--output=json', ...(opts.forceShare ? ['-U'] : []), path];
    const { stdout } = await runCommand(this.binary, args, { timeoutMs: this.timeoutMs, signal: opts.signal });
    return toInfo(JSON.parse(stdout) as RawInfo);
  }

  /** Every image of the backing chain, the given one first. */
  async chain(path: string, signal?: AbortSignal): Promise<ImageInfo[]> {
    const args = ['info', '--output=json', '--backing-chain', path];
    const { stdout } = await runCommand(this.binary, args, { timeoutMs: this.timeoutMs, signal });
    return (JSON.parse(stdout) as RawInfo[]).map(toInfo);
  }

  async createOverlay(path: string, backing: { path: string; format: string }, sizeBytes: number, signal?: AbortSignal): Promise<void> {
    const args = ['create', '-q', '-f', 'qcow2', '-F', backing.format, '-b', backing.path, path, String(sizeBytes)];
    await runCommand(this.binary, args, { timeoutMs: this.timeoutMs, signal });
  }

  async createBlank(path: string, sizeBytes: number, signal?: AbortSignal): Promise<void> {
    await runCommand(this.binary, ['create', '-q', '-f', 'qcow2', path, String(sizeBytes)], { timeoutMs: this.timeoutMs, signal });
  }

  /** Grows the virtual size; qemu-img refuses to shrink without --shrink, and so do we. */
  async grow(path: string, sizeBytes: number, signal?: AbortSignal): Promise<void> {
    await runCommand(this.binary, ['resize', '-q', '-f', 'qcow2', path, String(sizeBytes)], { timeoutMs: this.timeoutMs, signal });
  }

  /** A copy of `src` as a new qcow2 on the same backing image (or standalone); snapshots are not copied. */
  async copy(src: string, dst: string, backing: { path: string; format: string } | undefined, signal?: AbortSignal): Promise<void> {
    const args = ['convert', '-q', '-f', 'qcow2', '-O', 'qcow2'];
    if (backing) args.push('-B', backing.path, '-F', backing.format);
    args.push(src, dst);
    await runCommand(this.binary, args, { timeoutMs: 30 * 60_000, signal });
  }

  async snapshot(op: 'create' | 'apply' | 'delete', path: string, name: string, signal?: AbortSignal): Promise<void> {
    const flag = op === 'create' ? '-c' : op === 'apply' ? '-a' : '-d';
    await runCommand(this.binary, ['snapshot', '-q', flag, name, path], { timeoutMs: this.timeoutMs, signal });
  }
}

function toInfo(raw: RawInfo): ImageInfo {
  if (typeof raw.format !== 'string' || typeof raw['virtual-size'] !== 'number') {
    throw new DriverError('Fatal', `qemu-img info gave an unexpected answer for ${raw.filename ?? 'an image'}`);
  }
  return {
    filename: raw.filename ?? '',
    format: raw.format,
    virtualSize: raw['virtual-size'],
    backingFile: raw['full-backing-filename'] ?? raw['backing-filename'],
    snapshots: (raw.snapshots ?? []).map((s) => ({
      id: String(s.id ?? ''),
      name: String(s.name ?? ''),
      vmStateSize: s['vm-state-size'] ?? 0,
      createdAt: new Date((s['date-sec'] ?? 0) * 1000 + Math.floor((s['date-nsec'] ?? 0) / 1e6)).toISOString(),
    })),
  };
}
