// One operation through every hop of the plane, with timestamps: where each millisecond of a
// suspend/resume goes (HTTP → transaction + outbox → relay → control queue → controller →
// host queue → agent → driver → agent-results → applier → waiter). The hops' times come from
// BullMQ's own job stamps (added, taken, finished: every process runs on this machine, one
// clock) and the operation row; nothing in the product is instrumented for it.
// Prints figures; it is not a test.
// Usage: npm run bench:pipeline-trace [-- --n 50] [--warmup 30] [--lxc] [--pair suspend,resume|stop-force,start|snapshot,snapshot-delete|delete]
// (--lxc: a real busybox container on this machine through an in-process agent with the real
// drivers; needs root, lxc, busybox-static). The actions of --pair alternate; `delete` deletes a
// stopped instance made (unmeasured) before each round, so `--pair delete` is LXD's
// "delete a stopped container".
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, Queue } from 'bullmq';
import { Client } from 'pg';
import { AgentRuntime, simFleet } from '@hyperplane/agent';
import { createApiApp, ResolvedConfig } from '@hyperplane/api';
import { loadConfig } from '@hyperplane/config';
import { startController } from '@hyperplane/controller';
import { agentResultsQueueName, deleteRedisPrefix, hostQueueName, QueueName } from '@hyperplane/queue';
import { ADMIN, call, createBenchDatabase, percentile, startBenchStack } from './bench-stack';
import { exitWhenClean, stopLocalInstances, stopOnSignal } from './processes';

interface TraceStack {
  url: string;
  config: ResolvedConfig;
  stop(): Promise<void>;
}

/** api + controller + an agent for this machine's real drivers, in this process (as bench:real). */
async function startLxcStack(): Promise<TraceStack> {
  const database = await createBenchDatabase('bench_trace');
  const dbUrl = database.url;
  const prefix = `hpbt${randomBytes(3).toString('hex')}`;
  // The product's defaults; HYPERPLANE_DATABASE_PREPARED_STATEMENTS=false from the environment, for A/B runs.
  const prepared = process.env.HYPERPLANE_DATABASE_PREPARED_STATEMENTS;
  const config = {
    ...loadConfig(prepared ? { HYPERPLANE_DATABASE_PREPARED_STATEMENTS: prepared } : {}),
    DATABASE_URL: dbUrl,
    REDIS_URL: process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379',
    HYPERPLANE_REDIS_PREFIX: prefix,
    HYPERPLANE_ADMIN_TOKEN: ADMIN,
    HYPERPLANE_MIGRATE: false,
    LOG_LEVEL: 'warn',
    HYPERPLANE_HEARTBEAT_INTERVAL_S: 2,
    HYPERPLANE_HEARTBEAT_TIMEOUT_S: 30,
  } as ResolvedConfig;
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-bench-trace-'));
  const api = await createApiApp(config);
  await api.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(api.getHttpServer().address() as { port: number }).port}`;
  const controller = await startController(config);
  const enroll = await call<{ token: string }>(url, 'POST', '/v1/enrollment-tokens', { name: 'bench trace' });
  const agent = new AgentRuntime({
    apiUrl: url,
    enrollmentToken: enroll.body.token,
    dataDir,
    redis: { url: config.REDIS_URL, prefix },
    local: true,
    simHosts: [],
    sim: { timeScale: 1, seed: 1 },
    heartbeatIntervalMs: 2000,
    syncIntervalMs: 600_000,
    lockDuration: config.HYPERPLANE_JOB_LOCK_MS,
  });
  await agent.start();
  for (let i = 0; ; i++) {
    const r = await call(url, 'GET', `/v1/hosts/${agent.hostIds[0]}`);
    if (r.body.status === 'ready') break;
    if (i > 150) throw new Error(`host ${agent.hostIds[0]} is ${r.body.status}, not ready`);
    await new Promise((res) => setTimeout(res, 200));
  }
  return {
    url,
    config,
    async stop() {
      await agent.stop().catch(() => undefined);
      // The bench's containers go with it: a container whose directory is removed keeps running.
      await stopLocalInstances(dataDir);
      await controller.close().catch(() => undefined);
      await api.close().catch(() => undefined);
      await deleteRedisPrefix(config.REDIS_URL, prefix).catch(() => undefined);
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const N = Number(flag('n', '50'));
/** Unmeasured rounds first: a server that has served a few dozen requests (connections open, the hot code compiled by V8). */
const WARMUP = Number(flag('warmup', '30'));
const LXC = process.argv.includes('--lxc');
/**
 * The actions that alternate; `stop-force` is a stop with { force: true }, `snapshot` takes a
 * new snapshot and `snapshot-delete` deletes the last one taken, `delete` deletes a stopped
 * instance made for it.
 */
const PAIR = flag('pair', 'suspend,resume').split(',');
const ACTIONS = ['suspend', 'resume', 'start', 'stop', 'stop-force', 'restart', 'snapshot', 'snapshot-delete', 'delete'];
for (const a of PAIR) if (!ACTIONS.includes(a)) throw new Error(`--pair: ${a} is not one of ${ACTIONS.join(', ')}`);

/** Milliseconds from the client's POST, per hop, for one operation. */
type Trace = Record<string, number>;

const HOPS = [
  ['post_202', 'HTTP POST answered (transaction with outbox row committed)'],
  ['relay_added', 'outbox relay added the control job (NOTIFY wake + enqueue)'],
  ['ctl_taken', 'controller took the control job'],
  ['host_added', 'controller enqueued the host command'],
  ['ctl_done', 'control job finished'],
  ['agent_taken', 'agent took the host command'],
  ['agent_done', 'agent finished (driver ran, result enqueued)'],
  ['result_added', 'result job added'],
  ['result_taken', 'controller took the result'],
  ['op_finished', 'operation row finished_at (in the applying transaction)'],
  ['result_done', 'result job finished (batch committed)'],
  ['wait_returned', 'GET /wait answered'],
] as const;

type Reply = { status: number; body: any };

let snapshots = 0;

/** The request an action sends (snapshot names count up; `snapshot-delete` takes the last). */
function send(stack: TraceStack, instanceId: string, action: string): Promise<Reply> {
  const base = `/v1/instances/${instanceId}`;
  switch (action) {
    case 'stop-force':
      return call(stack.url, 'POST', `${base}/actions/stop`, { force: true });
    case 'snapshot':
      return call(stack.url, 'POST', `${base}/snapshots`, { name: `trace-${++snapshots}` });
    case 'snapshot-delete':
      return call(stack.url, 'DELETE', `${base}/snapshots/trace-${snapshots}`);
    case 'delete':
      return call(stack.url, 'DELETE', base);
    default:
      return call(stack.url, 'POST', `${base}/actions/${action}`);
  }
}

async function waitSucceeded(stack: TraceStack, post: Reply, what: string): Promise<void> {
  if (post.status !== 202) throw new Error(`${what}: ${post.status} ${JSON.stringify(post.body)}`);
  const done = await call(stack.url, 'GET', `/v1/operations/${post.body.id}/wait?timeoutS=120`);
  if (done.body.status !== 'succeeded') throw new Error(`${what}: ${JSON.stringify(done.body)}`);
}

let made = 0;

/** A new instance, running, on the stack's one host; its id. */
async function createInstance(stack: TraceStack): Promise<string> {
  const created = await call(stack.url, 'POST', '/v1/instances', {
    name: `trace-${++made}`,
    template: LXC ? 'busybox' : 'debian-12',
    technology: 'container',
    resources: { vcpus: 1, memoryMiB: LXC ? 64 : 256, diskGiB: 1 },
  });
  await waitSucceeded(stack, created, 'create');
  return created.body.instanceId as string;
}

async function traceOne(stack: TraceStack, pg: Client, queues: { control: Queue; host: Queue; results: Queue }, instanceId: string, action: string): Promise<Trace> {
  if (action === 'delete') {
    // Not measured: a stopped instance of its own to delete.
    instanceId = await createInstance(stack);
    await waitSucceeded(stack, await call(stack.url, 'POST', `/v1/instances/${instanceId}/actions/stop`, { force: true }), 'stop');
  }
  const epoch0 = Date.now();
  const t0 = performance.now();
  const post = await send(stack, instanceId, action);
  if (post.status !== 202) throw new Error(`${action}: ${post.status} ${JSON.stringify(post.body)}`);
  const post202 = performance.now() - t0;
  const opId = post.body.id as string;
  const done = await call(stack.url, 'GET', `/v1/operations/${opId}/wait?timeoutS=30`);
  const waited = performance.now() - t0;
  if (done.body.status !== 'succeeded') throw new Error(`${action} ${opId}: ${JSON.stringify(done.body)}`);
  const rel = (ms: number | undefined): number => (ms === undefined ? NaN : ms - epoch0);
  const find = async (q: Queue, match: (j: Job) => boolean): Promise<Job | undefined> => {
    for (let i = 0; i < 50; i++) {
      const jobs = await q.getJobs(['completed'], 0, 20, false);
      const j = jobs.find(match);
      if (j) return j;
      await new Promise((r) => setTimeout(r, 20));
    }
    return undefined;
  };
  const ctl = await find(queues.control, (j) => j.data?.operationId === opId);
  const host = await find(queues.host, (j) => j.data?.operationId === opId);
  const res = await find(queues.results, (j) => j.data?.operationId === opId || (j.data?.results as { operationId: string }[] | undefined)?.some((r) => r.operationId === opId) === true);
  const op = await pg.query<{ f: string }>(`SELECT extract(epoch FROM finished_at) * 1000 AS f FROM operations WHERE id = $1`, [opId]);
  return {
    post_202: post202,
    relay_added: rel(ctl?.timestamp),
    ctl_taken: rel(ctl?.processedOn),
    host_added: rel(host?.timestamp),
    ctl_done: rel(ctl?.finishedOn),
    agent_taken: rel(host?.processedOn),
    agent_done: rel(host?.finishedOn),
    result_added: rel(res?.timestamp),
    result_taken: rel(res?.processedOn),
    op_finished: rel(Number(op.rows[0]?.f)),
    result_done: rel(res?.finishedOn),
    wait_returned: waited,
  };
}

async function main(): Promise<void> {
  console.log(`load_average_before=${loadavg().map((l) => l.toFixed(2)).join(',')}`);
  const stack: TraceStack = LXC ? await startLxcStack() : await startBenchStack({ hosts: simFleet(1), timeScale: 0 });
  // Interrupted, it still removes its container, database and keys.
  const stop = stopOnSignal(() => stack.stop());
  const pg = new Client({ connectionString: stack.config.DATABASE_URL });
  await pg.connect();
  const connection = { url: stack.config.REDIS_URL };
  const prefix = stack.config.HYPERPLANE_REDIS_PREFIX;
  const opts = { connection: { host: new URL(connection.url).hostname, port: Number(new URL(connection.url).port || 6379) }, prefix };
  try {
    const inst = await call(stack.url, 'GET', `/v1/instances/${await createInstance(stack)}`);
    const hostId = inst.body.hostId as string;
    // Each agent has its own host queues and results queue.
    const { rows } = await pg.query<{ agent_id: string }>('SELECT agent_id FROM hosts WHERE id = $1', [hostId]);
    const agentId = rows[0]!.agent_id;
    const queues = {
      control: new Queue(QueueName.Control, opts),
      host: new Queue(hostQueueName(agentId, hostId), opts),
      results: new Queue(agentResultsQueueName(agentId), opts),
    };
    const traces: Trace[] = [];
    for (let i = 0; i < Math.max(2, WARMUP); i++) await traceOne(stack, pg, queues, inst.body.id, PAIR[i % PAIR.length]!);
    for (let i = 0; i < N; i++) {
      traces.push(await traceOne(stack, pg, queues, inst.body.id, PAIR[i % PAIR.length]!));
    }
    console.log(`n=${N} after ${Math.max(2, WARMUP)} unmeasured, ${LXC ? 'real lxc busybox container' : 'sim timeScale=0'} (${PAIR.join('/')} alternating); ms since the client sent the POST, p50 / p90 (+p50 of the hop):`);
    for (const [hop, what] of HOPS) {
      const xs = traces.map((t) => t[hop]!).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
      const deltas = traces
        .map((t) => {
          const i = HOPS.findIndex(([h]) => h === hop);
          return i === 0 ? t[hop]! : t[hop]! - t[HOPS[i - 1]![0]]!;
        })
        .filter((x) => Number.isFinite(x))
        .sort((a, b) => a - b);
      const p50 = percentile(xs, 50);
      console.log(`  ${hop.padEnd(14)} at ${p50.toFixed(1).padStart(7)} / ${percentile(xs, 90).toFixed(1).padStart(7)}  (+${percentile(deltas, 50).toFixed(1)})  ${what}`);
    }
    const totals = traces.map((t) => t.wait_returned!).sort((a, b) => a - b);
    // The plane's own share: everything but the agent's job (the driver's work and its report).
    const share = traces.map((t) => t.wait_returned! - (t.agent_done! - t.agent_taken!)).sort((a, b) => a - b);
    const driver = traces.map((t) => t.agent_done! - t.agent_taken!).sort((a, b) => a - b);
    console.log(`end_to_end p50_ms=${percentile(totals, 50).toFixed(1)} p90_ms=${percentile(totals, 90).toFixed(1)} max_ms=${totals[totals.length - 1]!.toFixed(1)}`);
    console.log(`agent_job p50_ms=${percentile(driver, 50).toFixed(1)} pipeline_share p50_ms=${percentile(share, 50).toFixed(1)} p90_ms=${percentile(share, 90).toFixed(1)}`);
    // Each action of the pair on its own (their times differ: a forced stop is not a start).
    for (const action of PAIR) {
      const mine = traces.filter((_, i) => PAIR[i % PAIR.length] === action);
      const sorted = (f: (t: Trace) => number) => mine.map(f).sort((a, b) => a - b);
      const e2e = sorted((t) => t.wait_returned!);
      const job = sorted((t) => t.agent_done! - t.agent_taken!);
      console.log(`  ${action.padEnd(16)} end_to_end p50_ms=${percentile(e2e, 50).toFixed(1)} p90_ms=${percentile(e2e, 90).toFixed(1)}  agent_job p50_ms=${percentile(job, 50).toFixed(1)}`);
    }
    console.log(`load_average_after=${loadavg().map((l) => l.toFixed(2)).join(',')}`);
    await Promise.all(Object.values(queues).map((q) => q.close()));
  } finally {
    await pg.end();
    await stop();
  }
}

main().then(
  () => exitWhenClean(0),
  (e: unknown) => {
    console.error(e);
    return exitWhenClean(1);
  },
);
