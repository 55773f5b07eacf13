import { open, stat } from 'node:fs/promises';
import { DriverError } from '../driver.exception';
import { sleep } from './qemu-host';

export interface WaitForMarkerOptions {
  path: string;
  marker: string;
  timeoutMs: number;
  /** Only output past this byte offset counts (the marker of an earlier boot does not). */
  fromOffset?: number;
  /** Checked between polls; a false answer ends the wait at once (the VM died). */
  isAlive?: () => Promise<boolean>;
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * Polls a serial console log until `marker` appears past `fromOffset`. Resolves with the elapsed
 * milliseconds. Throws `Transient` on timeout and `Fatal` when the VM is gone, both with the log tail.
 */
export async function waitForConsoleMarker(opts: WaitForMarkerOptions): Promise<number> {
  const started = Date.now();
  const needle = Buffer.from(opts.marker, 'utf8');
  let offset = opts.fromOffset ?? 0;
  let carry = Buffer.alloc(0);
  let polls = 0;
  for (;;) {
    const chunk = await readFrom(opts.path, offset);
    if (chunk.length > 0) {
      offset += chunk.length;
      const window = Buffer.concat([carry, chunk]);
      if (window.includes(needle)) return Date.now() - started;
      carry = window.subarray(Math.max(0, window.length - needle.length + 1));
    }
    if (Date.now() - started > opts.timeoutMs) {
      throw new DriverError('Transient', `the guest did not print ${opts.marker} within ${opts.timeoutMs} ms`, {
        consoleTail: await readTail(opts.path),
      });
    }
    // Checking the process costs a /proc read; every few polls is enough.
    if (opts.isAlive && polls++ % 5 === 4 && !(await opts.isAlive())) {
      throw new DriverError('Fatal', `the VM exited before the guest printed ${opts.marker}`, {
        consoleTail: await readTail(opts.path),
      });
    }
    await sleep(opts.pollMs ?? 50, opts.signal);
  }
}

async function readFrom(path: string, offset: number): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = (await fh.stat()).size;
    if (size <= offset) return Buffer.alloc(0);
    const buf = Buffer.alloc(Math.min(size - offset, 1024 * 1024));
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** The last `maxBytes` of a log, as text ('' when there is none). */
export async function readTail(path: string, maxBytes = 2048): Promise<string> {
  const size = await fileSize(path);
  const chunk = await readFrom(path, Math.max(0, size - maxBytes));
  return chunk.toString('utf8');
}

/**
 * The last `lines` lines of a console log. Reads at most 256 bytes a line (and 256 KiB in all)
 * from the end; a first line cut by that window is dropped. Carriage returns and terminal
 * escape sequences (a guest's colours, cursor moves) are taken out: a browser shows plain text.
 */
export async function readTailLines(path: string, lines: number): Promise<string[]> {
  if (lines <= 0) return [];
  const maxBytes = Math.min(256 * 1024, lines * 256);
  const size = await fileSize(path);
  const text = (await readFrom(path, Math.max(0, size - maxBytes))).toString('utf8');
  return lastLines(text, lines, size > maxBytes);
}

/** The last `lines` lines of `text`, cleaned; `cut`: the text starts mid-line. */
export function lastLines(text: string, lines: number, cut: boolean): string[] {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r/g, '');
  const all = clean.split('\n');
  if (cut) all.shift();
  if (all.length > 0 && all[all.length - 1] === '') all.pop();
  return all.slice(-lines);
}
