import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { promisify } from 'node:util';
import { freePort, waitFor } from './processes';

const run = promisify(execFile);

/** A server (redis-server, sentinel, pgbouncer) a suite started, and how to end it. */
interface Child {
  child: ChildProcess;
  output: () => string;
}

function start(binary: string, args: string[]): Child {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  child.on('error', (e) => (out += `\n${String(e)}`));
  return { child, output: () => out };
}

async function kill(c: Child): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.child.once('exit', () => r()));
  c.child.kill('SIGKILL');
  await exited;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout.trim();
}

async function answers(port: number): Promise<boolean> {
  return cli(port, 'PING')
    .then((r) => r === 'PONG')
    .catch(() => false);
}

export interface RedisCluster {
  url: string;
  ports: number[];
  /** kill -9 of every node, and their directories removed. */
  stop(): Promise<void>;
}

/**
 * A three-master Redis Cluster of the suite's own (no replicas), each node in its own temp
 * directory: `redis-server --cluster-enabled yes` ×3, then `redis-cli --cluster create`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'hp-redis-cluster-'));
  const ports: number[] = [];
  const nodes: Child[] = [];
  const stop = async (): Promise<void> => {
    for (const n of nodes) await kill(n);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      // The cluster bus listens on port + 10000: pick ports whose bus port is free as well.
      let port = await freePort();
      while (port + 10_000 > 65_535) port = await freePort();
      ports.push(port);
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir, { recursive: true });
      nodes.push(
        start('redis-server', [
          '--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir,
          '--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', '3000',
          '--save', '', '--appendonly', 'no',
        ]),
      );
    }
    for (const port of ports) await waitFor(`redis-server on ${port}`, () => answers(port), 15_000);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const port of ports) await waitFor(`cluster_state:ok on ${port}`, async () => (await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), 30_000, 200);
  } catch (e) {
    const said = nodes.map((n) => n.output()).join('\n');
    await stop();
    throw new Error(`${(e as Error).message}\n${said}`);
  }
  return { url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, ports, stop };
}

export interface RedisSentinel {
  url: string;
  masterPort: number;
  replicaPort: number;
  sentinelPort: number;
  /** The port of the Redis Sentinel names master now. */
  currentMasterPort(): Promise<number>;
  /** kill -9 of the master (Sentinel then promotes the replica). */
  killMaster(): Promise<void>;
  stop(): Promise<void>;
}

export const SENTINEL_MASTER = 'hpmaster';

/** A master, one replica and one Sentinel watching them (quorum 1, quick to declare the master down). */
export async function startRedisSentinel(): Promise<RedisSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'hp-redis-sentinel-'));
  const [masterPort, replicaPort, sentinelPort] = [await freePort(), await freePort(), await freePort()];
  const children: Child[] = [];
  const stop = async (): Promise<void> => {
    for (const c of children) await kill(c);
    rmSync(dir, { recursive: true, force: true });
  };
  const data = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  try {
    const master = start('redis-server', ['--port', String(masterPort), ...data]);
    children.push(master);
    await waitFor('the master', () => answers(masterPort), 15_000);
    children.push(start('redis-server', ['--port', String(replicaPort), ...data, '--replicaof', '127.0.0.1', String(masterPort)]));
    await waitFor('the replica', async () => (await answers(replicaPort)) && (await cli(replicaPort, 'INFO', 'replication')).includes('master_link_status:up'), 15_000, 200);
    // Sentinel rewrites its configuration file: it must be its own, writable.
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 2000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 10000`,
        '',
      ].join('\n'),
    );
    children.push(start('redis-server', [conf, '--sentinel']));
    await waitFor('the Sentinel', async () => (await answers(sentinelPort)) && (await cli(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER)).includes(String(masterPort)), 15_000, 200);
  } catch (e) {
    const said = children.map((c) => c.output()).join('\n');
    await stop();
    throw new Error(`${(e as Error).message}\n${said}`);
  }
  return {
    url: `redis+sentinel://127.0.0.1:${sentinelPort}/${SENTINEL_MASTER}`,
    masterPort,
    replicaPort,
    sentinelPort,
    currentMasterPort: async () => Number((await cli(sentinelPort, 'SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER)).split('\n')[1]),
    killMaster: () => kill(children[0]!),
    stop,
  };
}

export interface PgBouncer {
  port: number;
  /** The same database through PgBouncer. */
  urlFor(directUrl: string): string;
  /** PgBouncer's admin console (SHOW POOLS, SHOW STATS). */
  adminUrl: string;
  stop(): Promise<void>;
  output(): string;
}

/**
 * PgBouncer in transaction mode on a free port, in front of the test PostgreSQL
 * (127.0.0.1:5432, trust), for any database (`* = host=… port=…`).
 */
export async function startPgBouncer(target = { host: '127.0.0.1', port: 5432 }): Promise<PgBouncer> {
  const binary = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((b) => existsSync(b)) ?? 'pgbouncer';
  const dir = mkdtempSync(join(tmpdir(), 'hp-pgbouncer-'));
  const port = await freePort();
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${target.host} port=${target.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      'pool_mode = transaction',
      'admin_users = postgres',
      'max_client_conn = 500',
      'default_pool_size = 20',
      // What node-postgres sends at start that PgBouncer does not track itself.
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  // PgBouncer refuses to run as root unless asked not to care (-u drops privileges).
  const asRoot = process.getuid?.() === 0 ? ['-u', 'postgres'] : [];
  if (asRoot.length) await run('chown', ['-R', 'postgres', dir]);
  const child = start(binary, [...asRoot, join(dir, 'pgbouncer.ini')]);
  const stop = async (): Promise<void> => {
    await kill(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('pgbouncer to listen', async () => {
      if (child.child.exitCode !== null) throw new Error(`pgbouncer exited: ${child.output()}`);
      return new Promise<boolean>((resolve) => {
        const s = createConnection({ port, host: '127.0.0.1' });
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
    }, 15_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    port,
    urlFor: (directUrl) => {
      const u = new URL(directUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    adminUrl: `postgres://postgres@127.0.0.1:${port}/pgbouncer`,
    stop,
    output: child.output,
  };
}
