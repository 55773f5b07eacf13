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
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Driver } from '@hyperplane/drivers';
import { call, percentile, pool } from './bench-stack';
import { LocalBenchStack, startLocalBenchStack } from './local-stack';
import { exitWhenClean } from './processes';

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

/** api + controller + an agent for this machine at the product's defaults (sync every 30 s, heartbeat every 5 s). */
function startLocalStack(): Promise<LocalBenchStack> {
  return startLocalBenchStack({
    name: 'idle',
    // The default policy fits 32 one-vCPU (128 quarter-vCPU) containers on this 2-core host;
    // the bench measures idle cost at up to 200, not the overcommit policy.
    config: { HYPERPLANE_RATIOS_CONTAINER: 'vcpus=128,memoryMiB=1.5,diskGiB=4' },
    drivers: ['lxc'],
    syncIntervalMs: SYNC_INTERVAL_MS,
  });
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

async function createContainers(stack: LocalBenchStack, from: number, to: number, made: string[]): Promise<void> {
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
  let stack: LocalBenchStack | undefined;
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
  () => exitWhenClean(0),
  (e: unknown) => {
    console.error(e);
    return exitWhenClean(1);
  },
);
