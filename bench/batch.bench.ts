// End to end at fleet scale: N instances through POST /v1/instances/batch onto H simulated
// hosts. api, controller and the simulated fleet's agent run as processes of their own (as they
// would on their own machines), at the product's defaults (heartbeat every 5 s, inventory sync
// every 30 s), on a fresh database and a Redis server of the run's own. Not a test. Usage:
//   npm run bench:batch -- [--hosts 10000] [--instances 100000] [--slice 100000] [--delete]
//     [--delete-singly] [--delete-order created|random] [--delete-concurrency 64] [--prof <dir>]
//     [--progress] [--max-s N]
//
// Prints: acceptance rate, placements persisted per second for each slice of `--slice` children
// (from the children's own `started_at`: the moment their placement's transaction began), the
// time until every instance runs (the last child's `finished_at`), peak RSS of each process
// (VmHWM), the database's size and the WAL written, Redis's peak memory, and hosts whose
// allocation differs from the sum of their instances' claims (must be 0). With --delete: then
// every instance is deleted (POST /v1/instances/batch-delete, 10,000 ids a request, in the
// order they were made or, `--delete-order random`, by id; with --delete-singly
// DELETE /v1/instances/{id}, `--delete-concurrency` at once), with its rate, the drift after it
// and the database size.
import { ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { AgentOptions, simFleet } from '@hyperplane/agent';
import { loadConfig } from '@hyperplane/config';
import { ADMIN, call, createBenchDatabase } from './bench-stack';

const ROOT = join(__dirname, '..', '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] && !process.argv[i + 1]!.startsWith('--') ? process.argv[i + 1]! : fallback;
}
const HOSTS = Number(arg('hosts', '10000'));
const INSTANCES = Number(arg('instances', '100000'));
const SLICE = Number(arg('slice', String(Math.min(100_000, INSTANCES))));
const PER_BATCH = Math.min(10_000, INSTANCES);
const DELETE = process.argv.includes('--delete');
const DELETE_CONCURRENCY = Number(arg('delete-concurrency', '64'));
const DELETE_SINGLY = process.argv.includes('--delete-singly');
const DELETE_ORDER = arg('delete-order', 'created');
if (DELETE_ORDER !== 'created' && DELETE_ORDER !== 'random') throw new Error('--delete-order is created or random');
const PROGRESS = process.argv.includes('--progress');
/** `--max-s N`: stop waiting N s after the first request and report what was done by then. */
const MAX_S = Number(arg('max-s', '0'));
/** `--prof <dir>`: api, controller and agent write V8 CPU profiles there when they stop. */
const PROF = arg('prof', '');
const nodeArgs = (): string[] => ['--max-semi-space-size=64', ...(PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [])];

/** CPU seconds the whole machine has spent so far (user + system, every process), or NaN off Linux. */
function machineCpuSeconds(): number {
  if (!existsSync('/proc/stat')) return NaN;
  const [user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / 100; // USER_HZ
}

/** A process's peak resident set (VmHWM), in MiB, or NaN once it is gone. */
function peakRssMiB(pid: number | undefined): number {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has spent, or 0 once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (USER_HZ)
  } catch {
    return 0;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string, everyMs = 200): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const s = (ms: number): string => (ms / 1000).toFixed(1);
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

interface Plane {
  url: string;
  db: Client;
  dbName: string;
  redisPort: number;
  procs: { api: ChildProcess; controller: ChildProcess; agent: ChildProcess; redis: ChildProcess };
  stop(): Promise<void>;
}

async function redisInfo(port: number, section: string): Promise<Record<string, string>> {
  const { Redis } = await import('ioredis');
  // No retries: a Redis that does not answer yet (waitFor asks again) is an error, not a reconnect loop.
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    const text = await r.info(section);
    return Object.fromEntries(text.split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':', 2) as [string, string]));
  } finally {
    r.disconnect();
  }
}

async function startPlane(): Promise<Plane> {
  const database = await createBenchDatabase('bench_batch');
  const dbUrl = database.url;
  const dbName = database.name;
  // A Redis of the run's own: its peak memory is this run's, not the other users' of a shared one.
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(async () => (await redisInfo(redisPort, 'server')).redis_version !== undefined, 10_000, 'redis-server');
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const prefix = `hpb${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    HYPERPLANE_REDIS_PREFIX: prefix,
    HYPERPLANE_ADMIN_TOKEN: ADMIN,
    HYPERPLANE_MIGRATE: 'false',
    HYPERPLANE_LOCAL_AGENT: 'false',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    PORT: String(port),
  };
  const api = spawn(process.execPath, [...nodeArgs(), join(ROOT, 'dist/apps/api/src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const controller = spawn(process.execPath, [...nodeArgs(), join(ROOT, 'dist/apps/controller/src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`)).ok, 60_000, 'the api to answer');
  const enroll = await call<{ token: string }>(url, 'POST', '/v1/enrollment-tokens', { name: 'bench', maxHosts: HOSTS });
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-bench-batch-'));
  const defaults = loadConfig({});
  const options: AgentOptions = {
    apiUrl: url,
    enrollmentToken: enroll.body.token,
    dataDir,
    redis: { url: redisUrl, prefix },
    local: false,
    simHosts: simFleet(HOSTS),
    // The simulated hosts keep their state in memory (a real host writes it on its own disk,
    // not on the control plane's two cores) and take no time: the plane is what is measured.
    sim: { timeScale: 0, seed: 1, persist: false },
    // The product's defaults (agent.bootstrap.ts).
    heartbeatIntervalMs: defaults.HYPERPLANE_HEARTBEAT_INTERVAL_S * 1000,
    syncIntervalMs: 30_000,
    lockDuration: defaults.HYPERPLANE_JOB_LOCK_MS,
  };
  const agent = fork(join(__dirname, 'sim-agent.js'), [], { stdio: 'inherit', env: { ...env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'log' }, execArgv: nodeArgs() });
  agent.send(options);
  const [ready] = (await Promise.race([once(agent, 'message'), once(agent, 'exit')])) as unknown[];
  if (ready !== 'ready') throw new Error(`the simulated fleet's agent exited (${String(ready)})`);
  const db = new Client({ connectionString: dbUrl });
  await db.connect();
  await waitFor(async () => Number((await db.query(`SELECT count(*) AS n FROM hosts WHERE status = 'ready'`)).rows[0].n) >= HOSTS, 300_000, 'every host ready');
  // The clock starts on a settled fleet: the agent's first report of every host applied (10,000
  // syncs on the results queue) and every host still ready after it.
  const { Redis } = await import('ioredis');
  const r = new Redis({ port: redisPort, host: '127.0.0.1' });
  const agentIds = (await db.query<{ id: string }>('SELECT id FROM agents')).rows.map((a) => a.id);
  await waitFor(
    async () => {
      let open = 0;
      for (const id of agentIds) open += (await r.llen(`${prefix}:agent-results-${id}:wait`)) + (await r.llen(`${prefix}:agent-results-${id}:active`));
      return open === 0 && Number((await db.query(`SELECT count(*) AS n FROM hosts WHERE status = 'ready'`)).rows[0].n) >= HOSTS;
    },
    600_000,
    'the fleet to settle',
  );
  r.disconnect();
  return {
    url,
    db,
    dbName,
    redisPort,
    procs: { api, controller, agent, redis },
    async stop() {
      // The fleet's agent (10,000 hosts' loops) goes before Redis does, so it never runs against a
      // Redis that is gone; killed if it takes more than two minutes to stop.
      agent.send('stop');
      if (agent.exitCode === null && !(await Promise.race([once(agent, 'exit').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 120_000))]))) {
        agent.kill('SIGKILL');
        await once(agent, 'exit');
      }
      for (const p of [api, controller]) p.kill('SIGTERM');
      await Promise.all([api, controller].map((p) => (p.exitCode === null ? once(p, 'exit') : Promise.resolve())));
      await db.end();
      redis.kill('SIGTERM');
      rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
    },
  };
}

async function walLsn(db: Client): Promise<string> {
  return (await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
}

async function walSince(db: Client, lsn: string): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS n', [lsn])).rows[0]!.n);
}

async function dbSize(db: Client, name: string): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT pg_database_size($1) AS n', [name])).rows[0]!.n);
}

async function drift(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`
    SELECT count(*)::int AS n FROM hosts h LEFT JOIN (
      SELECT host_id, SUM(claim_memory_mib) AS mem, SUM(claim_vcpus) AS cpu, COUNT(*) AS n FROM instances WHERE host_id IS NOT NULL GROUP BY host_id) i ON i.host_id = h.id
    WHERE h.alloc_memory_mib <> COALESCE(i.mem, 0) OR h.alloc_vcpus <> COALESCE(i.cpu, 0) OR h.alloc_instances <> COALESCE(i.n, 0)`);
  return rows[0]!.n;
}

async function childStatuses(db: Client, parents: string[]): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM operations WHERE parent_id = ANY($1::uuid[]) GROUP BY status', [parents]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Parents still running, with their progress (a PK lookup each: the monitor must not load the database it measures). */
async function openParents(db: Client, ids: string[]): Promise<{ open: number; ended: number }> {
  const { rows } = await db.query<{ open: number; ended: number }>(
    `SELECT count(*) FILTER (WHERE status IN ('queued', 'running'))::int AS open,
            COALESCE(sum(CASE WHEN status IN ('queued', 'running') THEN coalesce(substring(step from '^(\\d+) of')::int, 0) ELSE (request->>'count')::int END), 0)::int AS ended
     FROM operations WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return rows[0]!;
}

async function main(): Promise<void> {
  const t00 = performance.now();
  const plane = await startPlane();
  const { db } = plane;
  console.log(`fleet hosts=${HOSTS} ready_s=${s(performance.now() - t00)}`);
  const lines: string[] = [];
  try {
    const wal0 = await walLsn(db);
    const size0 = await dbSize(db, plane.dbName);
    const cpu0 = machineCpuSeconds();
    const wall0 = Date.now();
    const t0 = performance.now();
    const parents: string[] = [];
    let lastPrinted = t0;
    // Requests are sent one after another, as a provider's automation would; placement of the
    // first batches overlaps the acceptance of the later ones.
    for (let k = 0; k * PER_BATCH < INSTANCES; k++) {
      const r = await call(plane.url, 'POST', '/v1/instances/batch', {
        count: Math.min(PER_BATCH, INSTANCES - k * PER_BATCH),
        namePrefix: `b${k}`,
        spec: { template: k % 3 === 2 ? 'alpine-3.20' : 'ubuntu-24.04', technology: k % 4 === 3 ? 'vm' : 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } },
      });
      if (r.status !== 202) throw new Error(`batch ${k}: ${r.status} ${JSON.stringify(r.body)}`);
      parents.push(r.body.id);
      if (PROGRESS && performance.now() - lastPrinted >= 5000) {
        lastPrinted = performance.now();
        console.log(`t=${s(lastPrinted - t0)}s accepted=${(k + 1) * PER_BATCH}`);
      }
    }
    const accepted = performance.now();
    let stoppedAt = 0;
    for (;;) {
      const { open, ended } = await openParents(db, parents);
      if (PROGRESS && performance.now() - lastPrinted >= 5000) {
        lastPrinted = performance.now();
        console.log(`t=${s(lastPrinted - t0)}s batches_open=${open} children_ended=${ended}`);
      }
      if (open === 0) break;
      if (MAX_S && performance.now() - t0 > MAX_S * 1000) {
        stoppedAt = performance.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const cpu = machineCpuSeconds() - cpu0;
    // Exact times from the rows: when each child's placement transaction began (started_at),
    // and when the last one ended.
    const { rows: marks } = await db.query<{ n: string; at: Date }>(
      `SELECT n, at FROM (SELECT row_number() OVER (ORDER BY started_at) AS n, started_at AS at, count(*) OVER () AS placed FROM operations WHERE parent_id = ANY($1::uuid[]) AND started_at IS NOT NULL) x
       WHERE n % $2 = 0 OR n = placed`,
      [parents, SLICE],
    );
    const { rows: last } = await db.query<{ at: Date; first: Date }>(`SELECT max(finished_at) AS at, min(started_at) AS first FROM operations WHERE parent_id = ANY($1::uuid[])`, [parents]);
    const since = (d: Date): number => d.getTime() - wall0;
    const slices: string[] = [];
    let prev = 0;
    let prevN = 0;
    for (const m of marks) {
      const n = Number(m.n);
      const at = since(m.at);
      slices.push(`${(n / 1000).toFixed(0)}k:${((n - prevN) / Math.max(0.001, (at - prev) / 1000)).toFixed(0)}`);
      prev = at;
      prevN = n;
    }
    const placedAt = marks.length ? since(marks[marks.length - 1]!.at) : NaN;
    const { rows: states } = await db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM instances GROUP BY state ORDER BY state`);
    // The server's settings that change these figures most: the working set's cache, and whether
    // dead row versions are cleaned and statistics kept while a million rows arrive.
    const { rows: buffers } = await db.query<{ shared_buffers: string; autovacuum: string }>(
      `SELECT current_setting('shared_buffers') AS shared_buffers, current_setting('autovacuum') AS autovacuum`,
    );
    const wal = await walSince(db, wal0);
    const size = await dbSize(db, plane.dbName);
    const redis = await redisInfo(plane.redisPort, 'memory');
    // CPU of each part; PostgreSQL's as the sum over the backends serving this database now.
    const cpuNow = async (): Promise<Record<string, number>> => {
      const pgPids = (await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [plane.dbName])).rows.map((r) => r.pid);
      return {
        api: cpuSeconds(plane.procs.api.pid),
        controller: cpuSeconds(plane.procs.controller.pid),
        agent: cpuSeconds(plane.procs.agent.pid),
        redis: cpuSeconds(plane.procs.redis.pid),
        pg_backends: pgPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
        bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
      };
    };
    const cpuText = (c: Record<string, number>, machine: number): string =>
      `cpu_s ${Object.entries(c)
        .map(([k, v]) => `${k}=${v.toFixed(0)}`)
        .join(' ')} machine=${machine.toFixed(0)}`;
    const cpuAtCreate = await cpuNow();
    const cpuLine = cpuText(cpuAtCreate, cpu);
    const rss = () =>
      `rss_peak_mib api=${peakRssMiB(plane.procs.api.pid).toFixed(0)} controller=${peakRssMiB(plane.procs.controller.pid).toFixed(0)} ` +
      `agent=${peakRssMiB(plane.procs.agent.pid).toFixed(0)} bench=${(process.resourceUsage().maxRSS / 1024).toFixed(0)}`;
    lines.push(
      `batch hosts=${HOSTS} instances=${INSTANCES} accept_s=${s(accepted - t0)} accept_per_s=${(INSTANCES / ((accepted - t0) / 1000)).toFixed(0)}` +
        ` first_placed_s=${s(since(last[0]!.first))} all_placed_s=${s(placedAt)} placements_per_s=${(INSTANCES / (placedAt / 1000)).toFixed(0)}` +
        ` all_running_s=${stoppedAt ? `not-reached(stopped at ${s(stoppedAt - t0)} s: ${JSON.stringify(await childStatuses(db, parents))})` : s(since(last[0]!.at))} machine_cpu_ms_per_instance=${((cpu * 1000) / INSTANCES).toFixed(3)}`,
      `placements_per_s_by_slice ${slices.join(' ')}`,
      `${rss()} pg_db_mib=${mib(size)} (+${mib(size - size0)}) pg_wal_written_mib=${mib(wal)} redis_peak_mib=${mib(Number(redis.used_memory_peak))} pg_shared_buffers=${buffers[0]!.shared_buffers} pg_autovacuum=${buffers[0]!.autovacuum}`,
      cpuLine,
      `hosts_with_allocation_drift=${await drift(db)} states=${JSON.stringify(states)}`,
    );
    for (const l of lines) console.log(l);

    if (DELETE) {
      // The ids, as a provider's automation holds them, read before the clock starts: in the order
      // they were made (a page is one create batch, packed on few hosts), or with
      // --delete-order random by id (across the whole fleet, about one instance a host a page).
      // Reading them page by page inside the measured time cost 1.9 s a page at a million (186 s
      // of PostgreSQL in a 607 s run), a cost of the bench and not of the product.
      const read0 = performance.now();
      const { rows: ids } = await db.query<{ id: string }>(
        DELETE_ORDER === 'random' ? 'SELECT id FROM instances WHERE live ORDER BY id' : 'SELECT id FROM instances WHERE live ORDER BY project_id, created_at, id',
      );
      console.log(`delete ids_read_s=${s(performance.now() - read0)} ids=${ids.length} (before the delete's clock)`);
      const wal1 = await walLsn(db);
      const machine1 = machineCpuSeconds();
      const d0 = performance.now();
      const dWall0 = Date.now();
      let deleted = 0;
      let failedRequests = 0;
      const deleteParents: string[] = [];
      // Pages of 10,000 ids (the most one batch delete takes): one POST /v1/instances/batch-delete
      // a page, or with --delete-singly one DELETE an id, `DELETE_CONCURRENCY` at once. Then wait
      // for the operations to end.
      for (let from = 0; from < ids.length; from += 10_000) {
        const rows = ids.slice(from, from + 10_000);
        if (!DELETE_SINGLY) {
          const r = await call(plane.url, 'POST', '/v1/instances/batch-delete', { ids: rows.map((x) => x.id) });
          if (r.status === 202) {
            deleted += rows.length;
            deleteParents.push(r.body.id);
          } else {
            failedRequests += rows.length;
            console.log(`batch delete refused: ${r.status} ${JSON.stringify(r.body)}`);
          }
        } else {
          let next = 0;
          await Promise.all(
            Array.from({ length: DELETE_CONCURRENCY }, async () => {
              while (next < rows.length) {
                const id = rows[next++]!.id;
                const r = await call(plane.url, 'DELETE', `/v1/instances/${id}`);
                if (r.status === 202) deleted++;
                else failedRequests++;
              }
            }),
          );
        }
        if (PROGRESS) console.log(`t=${s(performance.now() - d0)}s delete_requests=${deleted + failedRequests}`);
      }
      const requested = performance.now();
      // Batch deletes: until their parents end (as the creates' wait: a count of every active
      // operation reads them all, 170 ms at 100k, and would weigh on what is measured).
      if (DELETE_SINGLY) {
        await waitFor(async () => Number((await db.query(`SELECT count(*) AS n FROM operations WHERE status IN ('queued', 'running')`)).rows[0].n) === 0, 24 * 3600_000, 'the deletes to end', 1000);
      } else {
        let lastShown = performance.now();
        await waitFor(
          async () => {
            const { open, ended } = await openParents(db, deleteParents);
            if (PROGRESS && performance.now() - lastShown >= 5000) {
              lastShown = performance.now();
              console.log(`t=${s(lastShown - d0)}s deletes_open=${open} children_ended=${ended}`);
            }
            return open === 0;
          },
          24 * 3600_000,
          'the batch deletes to end',
          1000,
        );
      }
      const done = performance.now();
      const { rows: after2 } = await db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM instances GROUP BY state ORDER BY state`);
      // When the last child ended (the parents end after it, when BatchWatcher next looks).
      const { rows: lastChild } = await db.query<{ at: Date | null }>(`SELECT max(finished_at) AS at FROM operations WHERE kind = 'delete'`);
      const lastChildS = lastChild[0]?.at ? s(new Date(lastChild[0].at).getTime() - dWall0) : 'n/a';
      // How many host jobs carried the destroys (command batches hold many; alone, one each).
      const { rows: jobs } = await db.query<{ n: number }>(`SELECT count(DISTINCT job_id)::int AS n FROM operations WHERE kind = 'delete' AND job_queue LIKE 'host-%'`);
      const line =
        `delete mode=${DELETE_SINGLY ? 'singly' : 'batch'} order=${DELETE_ORDER} instances=${deleted} refused=${failedRequests} requests_s=${s(requested - d0)} last_child_s=${lastChildS} all_deleted_s=${s(done - d0)} deletes_per_s=${(deleted / ((done - d0) / 1000)).toFixed(0)} host_jobs=${jobs[0]!.n}` +
        ` pg_wal_written_mib=${mib(await walSince(db, wal1))} pg_db_mib=${mib(await dbSize(db, plane.dbName))} hosts_with_allocation_drift=${await drift(db)} states=${JSON.stringify(after2)}`;
      // CPU of the deletes alone (PostgreSQL's: the backends that served both phases).
      const cpuAfter = await cpuNow();
      const machineDelete = machineCpuSeconds() - machine1;
      const deleteCpu = `delete_${cpuText(Object.fromEntries(Object.entries(cpuAfter).map(([k, v]) => [k, v - (cpuAtCreate[k] ?? 0)])), machineDelete)} machine_cpu_ms_per_instance=${((machineDelete * 1000) / Math.max(1, deleted)).toFixed(3)}`;
      console.log(line);
      console.log(deleteCpu);
      lines.push(line, deleteCpu);
    }
    console.log(rss());
  } finally {
    await plane.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
