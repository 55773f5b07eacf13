import { open, readFile, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError } from '../driver.exception';

/** Runs calls with the same key one after another inside this process. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export interface FileLockOptions {
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * A lock file holding the owner's pid, shared with other processes on the host. A lock whose
 * owner is gone is taken over. Callers still make their result appear with an atomic rename,
 * so a lost race costs a wasted build, never a broken one.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, opts: FileLockOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o644);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await isStale(path)) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new DriverError('Transient', `timed out waiting for lock ${path}`);
      if (opts.signal?.aborted) throw new DriverError('Transient', `aborted while waiting for lock ${path}`);
      await sleep(opts.pollMs ?? 100);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

async function isStale(path: string): Promise<boolean> {
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const pid = Number.parseInt(text.trim(), 10);
    // A lock file being written right now has no pid yet: give its owner a moment.
    if (!Number.isInteger(pid) || pid <= 0) return Date.now() - info.mtimeMs > 5_000;
    return !processAlive(pid);
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
