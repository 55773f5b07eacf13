import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isUuid } from '@hyperplane/domain';
import { InstanceSpec } from '../driver';
import { DriverError } from '../driver.exception';
import { Accelerator } from './qemu-args';

/** `instance.json`: what `create` was asked for, so start and inspect work after an agent restart. */
export interface InstanceRecord {
  version: 1;
  spec: InstanceSpec;
  createdAt: string;
  /** The image the overlay backs onto, absolute, as qemu-img recorded it. */
  base?: { path: string; format: string };
  /** The overlay's virtual size. */
  diskBytes: number;
}

/** `runtime.json`: written when QEMU starts, removed when the driver stops it. */
export interface RuntimeRecord {
  pid: number;
  startedAt: string;
  accelerator: Accelerator;
  binary: string;
  /** Set before the driver ends QEMU, so its exit is not taken for a crash. */
  stopping?: boolean;
  /** Last run state the driver set (suspend/resume); shown when QMP cannot be asked. */
  paused?: boolean;
}

/** `exit.json`: why the last run ended when the driver did not end it; cleared by the next start. */
export interface ExitRecord {
  at: string;
  reason: string;
  consoleTail?: string;
}

export interface InstancePaths {
  dir: string;
  record: string;
  overlay: string;
  console: string;
  qmp: string;
  pidfile: string;
  runtime: string;
  exit: string;
}

/** The per-instance state directories under `<stateDir>/qemu/<id>/`. */
export class InstanceStore {
  constructor(readonly root: string) {}

  paths(id: string, dir = join(this.root, id)): InstancePaths {
    return {
      dir,
      record: join(dir, 'instance.json'),
      overlay: join(dir, 'overlay.qcow2'),
      console: join(dir, 'console.log'),
      qmp: join(dir, 'qmp.sock'),
      pidfile: join(dir, 'qemu.pid'),
      runtime: join(dir, 'runtime.json'),
      exit: join(dir, 'exit.json'),
    };
  }

  async find(id: string): Promise<InstanceRecord | undefined> {
    return readJson<InstanceRecord>(this.paths(id).record);
  }

  async get(id: string): Promise<InstanceRecord> {
    const rec = await this.find(id);
    if (!rec) throw new DriverError('NotFound', `qemu instance ${id} does not exist`);
    return rec;
  }

  async save(id: string, rec: InstanceRecord, dir?: string): Promise<void> {
    await writeJson(this.paths(id, dir).record, rec);
  }

  readRuntime(id: string): Promise<RuntimeRecord | undefined> {
    return readJson<RuntimeRecord>(this.paths(id).runtime);
  }

  writeRuntime(id: string, rt: RuntimeRecord): Promise<void> {
    return writeJson(this.paths(id).runtime, rt);
  }

  readExit(id: string): Promise<ExitRecord | undefined> {
    return readJson<ExitRecord>(this.paths(id).exit);
  }

  writeExit(id: string, ex: ExitRecord): Promise<void> {
    return writeJson(this.paths(id).exit, ex);
  }

  /** Removes what a QEMU run leaves: runtime record, pidfile and socket (and the exit record if asked). */
  async clearRun(id: string, opts: { exit?: boolean } = {}): Promise<void> {
    const p = this.paths(id);
    const files = [p.runtime, p.pidfile, p.qmp, ...(opts.exit ? [p.exit] : [])];
    await Promise.all(files.map((f) => rm(f, { force: true })));
  }

  async ids(): Promise<string[]> {
    try {
      return (await readdir(this.root, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && isUuid(e.name))
        .map((e) => e.name)
        .sort();
    } catch {
      return [];
    }
  }

  /** A scratch directory beside the instances; `commit` renames it into place atomically. */
  async scratch(id: string): Promise<string> {
    await mkdir(this.root, { recursive: true });
    const dir = join(this.root, `.${id}.tmp-${randomBytes(4).toString('hex')}`);
    await mkdir(dir);
    return dir;
  }

  async commit(scratch: string, id: string): Promise<void> {
    try {
      await rename(scratch, this.paths(id).dir);
    } catch (e) {
      await rm(scratch, { recursive: true, force: true });
      throw new DriverError('Conflict', `qemu instance ${id} appeared while it was being created`, { cause: String(e) });
    }
  }

  /** Drops a scratch directory that will not be committed. */
  async discard(scratch: string): Promise<void> {
    await rm(scratch, { recursive: true, force: true });
  }

  async remove(id: string): Promise<void> {
    await rm(this.paths(id).dir, { recursive: true, force: true });
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new DriverError('Fatal', `${path} is not valid JSON`);
  }
}

/** Written to a temporary name and renamed, so a crash never leaves half a file. */
async function writeJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** Serialises operations per key (one instance at a time); different keys run concurrently. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(fn);
    this.tails.set(key, current);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === current) this.tails.delete(key);
    }
  }
}
