// An open-loop load generator: requests leave at a fixed arrival rate whatever the answers do, and
// each latency is measured from the moment the request was due, not from when it left, so a
// slow server cannot hide its queueing by slowing the client down (coordinated omission).
//
// The mix is a provider's automation sending one request at a time: creates, actions on
// instances it made, GETs and lists, against 100 simulated hosts. api and controller run as
// processes of their own (1, 2 or 4 of each), the simulated fleet's agent in a third.
//
// Usage: npm run bench:load -- [--rates 250,500,1000] [--seconds 10] [--apis 1] [--controllers 1]
// Prints one line per rate and which rates met the issue's targets (create p99 ≤ 100 ms,
// GET p99 ≤ 50 ms, completions keeping pace).
import { ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { AgentOptions, simFleet } from '@hyperplane/agent';
import { deleteRedisPrefix } from '@hyperplane/queue';
import { ADMIN, createBenchDatabase, percentile } from './bench-stack';


const ROOT = join(__dirname, '..', '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const RATES = arg('rates', '250,500,1000').split(',').map(Number);
const SECONDS = Number(arg('seconds', '10'));
const APIS = Number(arg('apis', '1'));
const CONTROLLERS = Number(arg('controllers', '1'));
const HOSTS = Number(arg('hosts', '100'));
/** `--prof <dir>`: each api and controller process writes a V8 CPU profile there when it stops. */
const PROF = arg('prof', '');
const nodeArgs = (): string[] => ['--max-semi-space-size=64', ...(PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [])];

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

interface Plane {
  urls: string[];
  db: Client;
  /** The plane's processes by role, for the CPU each spends per operation. */
  pids: { role: 'api' | 'controller' | 'agent'; pid: number }[];
  stop(): Promise<void>;
}

/** CPU seconds (user + system) a process has used so far; 0 once it is gone or off Linux. */
function cpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds per role: the plane's processes, and the PostgreSQL backends serving its database. */
async function cpuByRole(plane: Plane): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const p of plane.pids) out.set(p.role, (out.get(p.role) ?? 0) + cpuSeconds(p.pid));
  const backends = (await plane.db.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows as { pid: number }[];
  out.set('postgres', backends.reduce((sum, b) => sum + cpuSeconds(b.pid), 0));
  out.set('generator', cpuSeconds(process.pid));
  return out;
}

/** A fresh database and Redis prefix, `APIS` api processes, `CONTROLLERS` controllers, one sim agent. */
async function startPlane(): Promise<Plane> {
  const database = await createBenchDatabase('load');
  const url = database.url;
  const prefix = `hpl${randomBytes(3).toString('hex')}`;
  const redis = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379';
  const env = {
    ...process.env,
    DATABASE_URL: url,
    REDIS_URL: redis,
    HYPERPLANE_REDIS_PREFIX: prefix,
    HYPERPLANE_ADMIN_TOKEN: ADMIN,
    HYPERPLANE_MIGRATE: 'false',
    HYPERPLANE_LOCAL_AGENT: 'false',
    LOG_LEVEL: 'warn',
    // The per-token limit (1,000/min by default… 60,000) would be the figure measured, not the plane.
    HYPERPLANE_RATE_LIMIT_PER_MINUTE: '100000000',
  };
  const procs: ChildProcess[] = [];
  const urls: string[] = [];
  for (let i = 0; i < APIS; i++) {
    const port = await freePort();
    procs.push(spawn(process.execPath, [...nodeArgs(), join(ROOT, 'dist/apps/api/src/main.js')], { env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] }));
    urls.push(`http://127.0.0.1:${port}`);
  }
  for (let i = 0; i < CONTROLLERS; i++) {
    procs.push(spawn(process.execPath, [...nodeArgs(), join(ROOT, 'dist/apps/controller/src/main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] }));
  }
  for (const u of urls) await waitFor(async () => (await fetch(`${u}/healthz`).catch(() => null))?.ok === true, 60_000, `${u} to answer`);
  const enroll = await fetch(`${urls[0]}/v1/enrollment-tokens`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'load', maxHosts: HOSTS }),
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-load-'));
  const options: AgentOptions = {
    apiUrl: urls[0]!,
    enrollmentToken: ((await enroll.json()) as { token: string }).token,
    dataDir,
    redis: { url: redis, prefix },
    local: false,
    simHosts: simFleet(HOSTS),
    // Real simulator durations would make "completions keep pace" a question about the
    // simulated hosts; time scale 0 asks it of the plane.
    sim: { timeScale: 0, seed: 1, persist: false },
    heartbeatIntervalMs: 5000,
    syncIntervalMs: 600_000,
    lockDuration: 30_000,
    concurrency: 16,
  };
  const agent = fork(join(__dirname, 'sim-agent.js'), [], { stdio: 'inherit', env: { ...process.env, LOG_LEVEL: 'warn' } });
  agent.send(options);
  const [ready] = (await Promise.race([once(agent, 'message'), once(agent, 'exit')])) as unknown[];
  if (ready !== 'ready') throw new Error(`the simulated fleet's agent exited (${String(ready)})`);
  const db = new Client({ connectionString: url });
  await db.connect();
  await waitFor(async () => Number((await db.query(`SELECT count(*) AS n FROM hosts WHERE status = 'ready'`)).rows[0].n) >= HOSTS, 120_000, 'every host ready');
  const pids = [
    ...procs.map((p, i) => ({ role: i < APIS ? ('api' as const) : ('controller' as const), pid: p.pid! })),
    { role: 'agent' as const, pid: agent.pid! },
  ];
  return {
    urls,
    db,
    pids,
    async stop() {
      agent.send('stop');
      await once(agent, 'exit');
      for (const p of procs) p.kill('SIGTERM');
      await Promise.all(procs.map((p) => (p.exitCode === null ? once(p, 'exit') : Promise.resolve())));
      await db.end();
      rmSync(dataDir, { recursive: true, force: true });
      await deleteRedisPrefix(redis, prefix);
      await database.drop();
    },
  };
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type Kind = 'create' | 'action' | 'get' | 'list';
/** Of every 20 requests: 10 creates, 2 actions, 6 GETs, 2 lists. */
const MIX: Kind[] = ['create', 'get', 'create', 'get', 'create', 'list', 'create', 'action', 'create', 'get', 'create', 'get', 'create', 'list', 'create', 'action', 'create', 'get', 'create', 'get'];

interface Result {
  latency: Record<Kind, number[]>;
  status: Record<string, number>;
  late: number;
}

async function runRate(plane: Plane, rate: number): Promise<string> {
  const created: string[] = [];
  const res: Result = { latency: { create: [], action: [], get: [], list: [] }, status: {}, late: 0 };
  const total = rate * SECONDS;
  const auth = { Authorization: `Bearer ${ADMIN}` };
  const [base] = (await plane.db.query(`SELECT count(*) FILTER (WHERE status = 'succeeded') AS done FROM operations`)).rows as { done: string }[];
  const doneBefore = Number(base!.done);
  const cpuBefore = await cpuByRole(plane);
  // Backends that end during the run take their CPU with them; the pools keep theirs open.

  const send = async (i: number, due: number): Promise<void> => {
    const url = plane.urls[i % plane.urls.length]!;
    let kind = MIX[i % MIX.length]!;
    if (kind !== 'create' && kind !== 'list' && created.length < 10) kind = 'list';
    const pick = () => created[Math.floor(Math.random() * created.length)]!;
    let r: Response;
    try {
      switch (kind) {
        case 'create':
          r = await fetch(`${url}/v1/instances`, {
            method: 'POST',
            headers: { ...auth, 'Content-Type': 'application/json' },
            body: JSON.stringify({ name: `l${rate}-${i}`, template: 'debian-12', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } }),
          });
          break;
        case 'action':
          r = await fetch(`${url}/v1/instances/${pick()}/actions/restart`, { method: 'POST', headers: auth });
          break;
        case 'get':
          r = await fetch(`${url}/v1/instances/${pick()}`, { headers: auth });
          break;
        case 'list':
          r = await fetch(`${url}/v1/instances?limit=50`, { headers: auth });
          break;
      }
      const body = (await r.json()) as { id?: string; instanceId?: string | null };
      if (kind === 'create' && r.status === 202 && body.instanceId) created.push(body.instanceId);
      res.status[`${kind}_${r.status}`] = (res.status[`${kind}_${r.status}`] ?? 0) + 1;
    } catch {
      res.status[`${kind}_error`] = (res.status[`${kind}_error`] ?? 0) + 1;
    }
    res.latency[kind].push(performance.now() - due);
  };

  const start = performance.now() + 50;
  const inflight: Promise<void>[] = [];
  let i = 0;
  const samples: { t: number; done: number; open: number }[] = [];
  const sampler = setInterval(() => {
    void plane.db
      .query(`SELECT count(*) FILTER (WHERE status = 'succeeded') AS done, count(*) FILTER (WHERE status IN ('queued','running')) AS open FROM operations`)
      .then((q) => samples.push({ t: performance.now(), done: Number(q.rows[0].done) - doneBefore, open: Number(q.rows[0].open) }));
  }, 1000);
  // The clock: every tick sends what has come due since the last one.
  while (i < total) {
    const now = performance.now();
    while (i < total && start + (i * 1000) / rate <= now) {
      const due = start + (i * 1000) / rate;
      if (now - due > 5) res.late++;
      inflight.push(send(i, due));
      i++;
    }
    await new Promise((r) => setImmediate(r));
    if (performance.now() - now < 0.5) await new Promise((r) => setTimeout(r, 1));
  }
  const sendEnd = performance.now();
  await Promise.all(inflight);
  // Drain: until nothing is queued or running.
  await waitFor(async () => Number((await plane.db.query(`SELECT count(*) AS n FROM operations WHERE status IN ('queued','running')`)).rows[0].n) === 0, 300_000, 'operations to finish');
  const drained = performance.now();
  clearInterval(sampler);
  const cpuAfter = await cpuByRole(plane);
  // Where PostgreSQL read rows without an index (the tables most scanned since the plane began).
  const scans = (
    (await plane.db.query(`SELECT relname, seq_scan, seq_tup_read FROM pg_stat_user_tables ORDER BY seq_tup_read DESC LIMIT 4`)).rows as {
      relname: string;
      seq_scan: string;
      seq_tup_read: string;
    }[]
  )
    .map((r) => `${r.relname}:${r.seq_scan}/${r.seq_tup_read}`)
    .join(',');
  const [after] = (await plane.db.query(`SELECT count(*) FILTER (WHERE status = 'succeeded') AS done, count(*) FILTER (WHERE status = 'failed') AS failed FROM operations`)).rows as { done: string; failed: string }[];
  const inWindow = samples.filter((s) => s.t <= sendEnd);
  const completedInWindow = inWindow.length ? inWindow[inWindow.length - 1]!.done : 0;
  const openAtEnd = inWindow.length ? inWindow[inWindow.length - 1]!.open : 0;
  const f = (xs: number[], p: number) => (xs.length ? percentile([...xs].sort((a, b) => a - b), p).toFixed(1) : '-');
  const l = res.latency;
  const acceptedCreates = res.status['create_202'] ?? 0;
  const seconds = (sendEnd - start) / 1000;
  const createP99 = l.create.length ? percentile([...l.create].sort((a, b) => a - b), 99) : Infinity;
  const getP99 = l.get.length ? percentile([...l.get].sort((a, b) => a - b), 99) : Infinity;
  const keepsPace = (drained - sendEnd) / 1000 <= Math.max(2, SECONDS * 0.2);
  const succeeded = Number(after!.done) - doneBefore;
  // CPU milliseconds each role spent per succeeded operation, from the first request to the drain.
  const cpuPerOp = [...cpuAfter]
    .map(([role, sec]) => `${role}=${succeeded ? (((sec - (cpuBefore.get(role) ?? 0)) * 1000) / succeeded).toFixed(2) : '-'}`)
    .join(',');
  const ok = createP99 <= 100 && getP99 <= 50 && keepsPace && acceptedCreates >= total * 0.5 * 0.99;
  return (
    `load rate=${rate}/s seconds=${SECONDS} apis=${APIS} controllers=${CONTROLLERS} hosts=${HOSTS} ` +
    `create_p50_ms=${f(l.create, 50)} create_p99_ms=${f(l.create, 99)} get_p50_ms=${f(l.get, 50)} get_p99_ms=${f(l.get, 99)} ` +
    `list_p99_ms=${f(l.list, 99)} action_p99_ms=${f(l.action, 99)} creates_accepted_per_s=${(acceptedCreates / seconds).toFixed(0)} ` +
    `ops_completed_per_s_during=${(completedInWindow / seconds).toFixed(0)} open_ops_at_end=${openAtEnd} drain_after_s=${((drained - sendEnd) / 1000).toFixed(1)} ` +
    `succeeded_total=${succeeded} cpu_ms_per_op=${cpuPerOp} failed_total=${after!.failed} seq_scans_rows=${scans} sent_late_over_5ms=${res.late} ` +
    `statuses=${Object.entries(res.status)
      .sort()
      .map(([k, v]) => `${k}:${v}`)
      .join(',')} within_target=${ok ? 'yes' : 'no'}`
  );
}

async function main(): Promise<void> {
  const lines: string[] = [];
  for (const rate of RATES) {
    // A fresh plane per rate: a rate's figures do not carry the previous rate's tables and backlog.
    const plane = await startPlane();
    try {
      const line = await runRate(plane, rate);
      console.log(line);
      lines.push(line);
    } finally {
      await plane.stop();
    }
  }
  const best = lines.filter((l) => l.endsWith('within_target=yes')).map((l) => Number(/rate=(\d+)/.exec(l)![1]));
  console.log(`highest_rate_within_target=${best.length ? Math.max(...best) : 'none'}/s (apis=${APIS} controllers=${CONTROLLERS})`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
