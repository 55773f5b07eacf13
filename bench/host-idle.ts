// What an idle host costs the plane: api + controller + an agent for this machine (real lxc
// driver) in this process, at the product's defaults (inventory sync every 30 s, heartbeat every
// 5 s), with 0, 50 and 200 real idle busybox containers made through the API. For each level:
//   * a CPU window: user+system time of this process plus that of every child it reaped
//     (/proc/self/stat utime+stime+cutime+cstime), and the processes it spawned, by program;
//   * a /healthz window: GET /healthz every 100 ms (open loop), p50/p99/max.
// The two windows are apart so the poller's own requests do not count as idle cost.
// The containers live in the stack's own temporary lxcpath with instance ids (UUIDs) as names;
// the bench destroys exactly those at the end, however the run ends.
// Needs root, lxc and busybox-static, PostgreSQL and Redis (BENCH_PG, BENCH_REDIS).
// Usage: npm run bench:host-idle [-- --levels 0,50,200 --seconds 60 --width 8]
import childProcess from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client } from 'pg';
import { INestApplication, INestApplicationContext } from '@nestjs/common';
import { loadConfig } from '@hyperplane/config';
import { createApiApp, ResolvedConfig } from '@hyperplane/api';
import { startController } from '@hyperplane/controller';
import { AgentRuntime } from '@hyperplane/agent';
import { migrateDatabase } from '@hyperplane/db';
import { deleteRedisPrefix } from '@hyperplane/queue';
import { Driver } from '@hyperplane/drivers';
import { ADMIN, call, percentile, pool } from './bench-stack';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const LEVELS = flag('levels', '0,50,200')
  .split(',')
  .map(Number)
  .filter((n) => n >= 0);
const SECONDS = Number(flag('seconds', '60'));
const WIDTH = Number(flag('width', '8'));
const CONTAINER_SIZE = { vcpus: 1, memoryMiB: 64, diskGiB: 1 };
/** The agent's default inventory sync interval (apps/agent/src/agent.bootstrap.ts). */
const SYNC_INTERVAL_MS = 30_000;

// Every process the stack spawns goes through child_process.spawn (runCommand); count them by program.
const spawned = new Map<string, number>();
const realSpawn = childProcess.spawn;
(childProcess as { spawn: typeof childProcess.spawn }).spawn = ((file: string, ...rest: unknown[]) => {
  spawned.set(basename(file), (spawned.get(basename(file)) ?? 0) + 1);
  return (realSpawn as (...a: unknown[]) => childProcess.ChildProcess)(file, ...rest);
}) as typeof childProcess.spawn;

interface Stack {
  url: string;
  hostId: string;
  agent: AgentRuntime;
  stop(): Promise<void>;
}

async function startLocalStack(): Promise<Stack> {
  const admin = process.env.BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379';
  const dbName = `hp_bench_idle_${Date.now()}_${randomBytes(2).toString('hex')}`;
  const prefix = `hpbi${randomBytes(3).toString('hex')}`;
  const pg = new Client({ connectionString: admin });
  await pg.connect();
  await pg.query(`CREATE DATABASE "${dbName}"`);
  await pg.end();
  const dbUrl = admin.replace(/\/[^/]*$/, `/${dbName}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-idle-'));
  let api: INestApplication | undefined;
  let controller: INestApplicationContext | undefined;
  let agent: AgentRuntime | undefined;
  const stop = async (): Promise<void> => {
    await agent?.stop().catch(() => undefined);
    await controller?.close().catch(() => undefined);
    await api?.close().catch(() => undefined);
    await deleteRedisPrefix(redisUrl, prefix).catch(() => undefined);
    const c = new Client({ connectionString: admin });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await c.end();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await migrateDatabase(dbUrl);
    const defaults = loadConfig({});
    const config = {
      ...defaults,
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl,
      HYPERPLANE_REDIS_PREFIX: prefix,
      HYPERPLANE_ADMIN_TOKEN: ADMIN,
      HYPERPLANE_MIGRATE: false,
      LOG_LEVEL: 'warn',
      // The default policy fits 16 one-vCPU containers on this 2-core host; the bench measures
      // idle cost, not the overcommit policy.
      HYPERPLANE_RATIOS_CONTAINER: 'vcpus=128,memoryMiB=1.5,diskGiB=4',
    } as ResolvedConfig;
    api = await createApiApp(config);
    await api.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(api.getHttpServer().address() as { port: number }).port}`;
    controller = await startController(config);
    const enroll = await call<{ token: string }>(url, 'POST', '/v1/enrollment-tokens', { name: 'bench host idle' });
    agent = new AgentRuntime({
      apiUrl: url,
      enrollmentToken: enroll.body.token,
      dataDir,
      redis: { url: redisUrl, prefix },
      local: true,
      simHosts: [],
      sim: { timeScale: 1, seed: 1 },
      heartbeatIntervalMs: config.HYPERPLANE_HEARTBEAT_INTERVAL_S * 1000,
      syncIntervalMs: SYNC_INTERVAL_MS,
      lockDuration: config.HYPERPLANE_JOB_LOCK_MS,
    });
    await agent.start();
    const hostId = agent.hostIds[0];
    if (!hostId) throw new Error('the agent enrolled no host');
    for (let i = 0; ; i++) {
      const r = await call(url, 'GET', `/v1/hosts/${hostId}`);
      if (r.body.status === 'ready') {
        if (!r.body.drivers.some((d: any) => d.name === 'lxc' && d.installed)) throw new Error(`this host cannot run lxc: ${JSON.stringify(r.body.drivers)}`);
        break;
      }
      if (i > 150) throw new Error(`host ${hostId} is ${r.body.status}, not ready`);
      await sleep(200);
    }
    return { url, hostId, agent, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU of this process and of its reaped children, in ms (from /proc/self/stat, clock ticks of 10 ms). */
function cpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime are fields 14–17; fields[0] here is field 3.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return ticks * 10;
}

async function createContainers(stack: Stack, from: number, to: number, made: string[]): Promise<void> {
  await pool(to - from, WIDTH, async (i) => {
    const post = await call(stack.url, 'POST', '/v1/instances', { name: `idle-bench-${from + i}`, template: 'busybox', technology: 'container', resources: CONTAINER_SIZE });
    if (post.status !== 202) throw new Error(`POST /v1/instances: ${post.status} ${JSON.stringify(post.body)}`);
    made.push(post.body.instanceId);
    const done = await call(stack.url, 'GET', `/v1/operations/${post.body.id}/wait?timeoutS=300`);
    if (done.body.status !== 'succeeded') throw new Error(`create idle-bench-${from + i}: ${JSON.stringify(done.body)}`);
  });
}

/** The longest the event loop was late in a window (ms): our own blocking, or the CPU taken by others. */
function loopDelay(): { stop(): number } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    stop() {
      h.disable();
      return h.max / 1e6;
    },
  };
}

async function cpuWindow(ms: number): Promise<{ cpuMs: number; spawns: Map<string, number> }> {
  const before = new Map(spawned);
  const c0 = cpuMs();
  await sleep(ms);
  const c1 = cpuMs();
  const spawns = new Map<string, number>();
  for (const [tool, n] of spawned) if (n - (before.get(tool) ?? 0) > 0) spawns.set(tool, n - (before.get(tool) ?? 0));
  return { cpuMs: c1 - c0, spawns };
}

async function healthzWindow(url: string, ms: number): Promise<{ times: number[]; errors: number }> {
  const times: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const end = performance.now() + ms;
  // Open loop: a request every 100 ms whether or not the previous one has answered.
  for (let next = performance.now(); next < end; next += 100) {
    await sleep(Math.max(0, next - performance.now()));
    inflight.push(
      (async () => {
        const t0 = performance.now();
        try {
          const r = await fetch(`${url}/healthz`);
          await r.arrayBuffer();
          if (!r.ok) errors++;
        } catch {
          errors++; // counted, and its time kept: a reset connection is a slow answer too
        }
        times.push(performance.now() - t0);
      })(),
    );
  }
  await Promise.all(inflight);
  return { times: times.sort((a, b) => a - b), errors };
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error('needs root on Linux');
  // Ctrl-C ends the measuring, not the clean-up below.
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('interrupted: cleaning up (Ctrl-C again to leave the containers behind)');
  });
  const checkInterrupt = () => {
    if (interrupted) throw new Error('interrupted');
  };
  let stack: Stack | undefined;
  const made: string[] = [];
  try {
    stack = await startLocalStack();
    const host = (await call(stack.url, 'GET', `/v1/hosts/${stack.hostId}`)).body;
    console.log(`node=${process.version} cpus=${cpus().length} lxc=${host.drivers.find((d: any) => d.name === 'lxc')?.version} sync_interval_s=${SYNC_INTERVAL_MS / 1000} window_s=${SECONDS}`);
    let have = 0;
    for (const level of LEVELS) {
      if (level > have) {
        const t0 = performance.now();
        await createContainers(stack, have, level, made);
        have = level;
        console.log(`created ${level} running containers in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        await sleep(5_000); // let the tail of the creates settle
      }
      checkInterrupt();
      const cpu = await cpuWindow(SECONDS * 1000);
      const perMin = (cpu.cpuMs * 60_000) / (SECONDS * 1000);
      const spawns = [...cpu.spawns].map(([t, n]) => `${t}:${n}`).join(',') || 'none';
      const total = [...cpu.spawns.values()].reduce((a, b) => a + b, 0);
      console.log(`containers=${level} cpu_ms_per_min=${perMin.toFixed(0)} cpu_pct_of_one_core=${((perMin / 60_000) * 100).toFixed(2)} processes_spawned=${total} (${spawns})`);
      checkInterrupt();
      const loop = loopDelay();
      const { times: hz, errors } = await healthzWindow(stack.url, SECONDS * 1000);
      const loopMax = loop.stop();
      console.log(
        `containers=${level} healthz n=${hz.length} errors=${errors} p50_ms=${percentile(hz, 50).toFixed(1)} p99_ms=${percentile(hz, 99).toFixed(1)} max_ms=${hz[hz.length - 1]!.toFixed(1)} event_loop_delay_max_ms=${loopMax.toFixed(1)} loadavg=${loadavg()[0]!.toFixed(1)}`,
      );
      // One sync's reading of the host, timed alone (the driver's cheap path where it has one).
      const lxc = stack.agent.driver(stack.hostId, 'lxc');
      const t0 = performance.now();
      const n = lxc?.observe ? (await lxc.observe()).length : ((await lxc?.list()) ?? []).length;
      console.log(`containers=${level} one_sync_read_ms=${(performance.now() - t0).toFixed(0)} (${lxc?.observe ? 'observe' : 'list'}, ${n} containers)`);
    }
  } finally {
    // Exactly the containers this run made, in its own lxcpath: force-stopped and destroyed by the driver.
    if (stack) {
      const lxc: Driver | undefined = stack.agent.driver(stack.hostId, 'lxc');
      const ids = new Set([...made, ...(((await lxc?.list().catch(() => [])) ?? []).map((s) => s.id))]);
      const list = [...ids];
      await pool(list.length, 8, async (i) => {
        await lxc?.destroy(list[i]!).catch((e: unknown) => console.error(`destroying ${list[i]}: ${String(e)}`));
      });
      console.log(`destroyed ${list.length} containers`);
      await stack.stop().catch((e: unknown) => console.error(`stopping the stack: ${String(e)}`));
    }
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
