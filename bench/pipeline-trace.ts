// One operation through every hop of the plane, with timestamps: where each millisecond of a
// suspend/resume goes (HTTP → transaction + outbox → relay → control queue → controller →
// host queue → agent → driver → agent-results → applier → waiter). The hops' times come from
// BullMQ's own job stamps (added, taken, finished: every process runs on this machine, one
// clock) and the operation row; nothing in the product is instrumented for it.
// Prints figures; it is not a test. Usage: npm run bench:pipeline-trace [-- --n 50]
import { loadavg } from 'node:os';
import { Job, Queue } from 'bullmq';
import { Client } from 'pg';
import { simFleet } from '@hyperplane/agent';
import { hostQueueName, QueueName } from '@hyperplane/queue';
import { BenchStack, call, percentile, startBenchStack } from './bench-stack';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const N = Number(flag('n', '50'));

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

async function traceOne(stack: BenchStack, pg: Client, queues: { control: Queue; host: Queue; results: Queue }, instanceId: string, action: string): Promise<Trace> {
  const epoch0 = Date.now();
  const t0 = performance.now();
  const post = await call(stack.url, 'POST', `/v1/instances/${instanceId}/actions/${action}`);
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
  const stack = await startBenchStack({ hosts: simFleet(1), timeScale: 0 });
  const pg = new Client({ connectionString: stack.config.DATABASE_URL });
  await pg.connect();
  const connection = { url: stack.config.REDIS_URL };
  const prefix = stack.config.HYPERPLANE_REDIS_PREFIX;
  const opts = { connection: { host: new URL(connection.url).hostname, port: Number(new URL(connection.url).port || 6379) }, prefix };
  try {
    const created = await call(stack.url, 'POST', '/v1/instances', {
      name: 'trace-1',
      template: 'debian-12',
      technology: 'container',
      resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 },
    });
    if (created.status !== 202) throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
    await call(stack.url, 'GET', `/v1/operations/${created.body.id}/wait?timeoutS=60`);
    const inst = await call(stack.url, 'GET', `/v1/instances/${created.body.instanceId ?? created.body.instance?.id}`);
    const hostId = inst.body.hostId as string;
    const queues = {
      control: new Queue(QueueName.Control, opts),
      host: new Queue(hostQueueName(hostId), opts),
      results: new Queue(QueueName.AgentResults, opts),
    };
    const traces: Trace[] = [];
    for (let i = 0; i < N; i++) {
      traces.push(await traceOne(stack, pg, queues, inst.body.id, i % 2 === 0 ? 'suspend' : 'resume'));
    }
    console.log(`n=${N} sim timeScale=0 (suspend/resume alternating); ms since the client sent the POST, p50 / p90:`);
    let prev = 0;
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
      prev = p50;
    }
    void prev;
    const totals = traces.map((t) => t.wait_returned!).sort((a, b) => a - b);
    console.log(`end_to_end p50_ms=${percentile(totals, 50).toFixed(1)} p90_ms=${percentile(totals, 90).toFixed(1)} max_ms=${totals[totals.length - 1]!.toFixed(1)}`);
    console.log(`load_average_after=${loadavg().map((l) => l.toFixed(2)).join(',')}`);
    await Promise.all(Object.values(queues).map((q) => q.close()));
  } finally {
    await pg.end();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
