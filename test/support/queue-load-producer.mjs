// A producer in its own process for the job-queue test: adds UNIQUE valid create jobs, DUPLICATES
// more with the keys (and bodies) of some of them, and INVALID ones; follows QueueEvents and
// prints one JSON line once every job has a result (or the deadline passes).
import { Queue, QueueEvents } from 'bullmq';

const env = process.env;
const url = new URL(env.REDIS_URL);
const connection = { host: url.hostname, port: Number(url.port || 6379) };
const prefix = env.PREFIX;
const name = env.QUEUE;
const unique = Number(env.UNIQUE);
const duplicates = Number(env.DUPLICATES);
const invalid = Number(env.INVALID);
const deadline = Date.now() + Number(env.DEADLINE_MS ?? 240_000);

const queue = new Queue(name, { connection, prefix });
const events = new QueueEvents(name, { connection, prefix });
await events.waitUntilReady();

const body = (i) => ({ project: env.PROJECT, name: `q-${i}`, template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 64, diskGiB: 1 } });
const jobs = [];
for (let i = 0; i < unique; i++) jobs.push({ id: `u-${i}`, data: { action: 'create', idempotencyKey: `key-${i}`, token: env.TOKEN, body: body(i) } });
for (let i = 0; i < duplicates; i++) jobs.push({ id: `d-${i}`, data: { action: 'create', idempotencyKey: `key-${i * 7}`, token: env.TOKEN, body: body(i * 7) } });
for (let i = 0; i < invalid; i++) jobs.push({ id: `x-${i}`, data: { action: 'create', idempotencyKey: `bad-${i}`, token: env.TOKEN, body: { ...body(`bad-${i}`), resources: { vcpus: -1, memoryMiB: 64, diskGiB: 1 } } } });
// Interleave so that duplicates and invalid jobs arrive amid the rest.
jobs.sort((a, b) => (a.id.length * 31 + Number(a.id.split('-')[1]) * 7919) % 1009 - (b.id.length * 31 + Number(b.id.split('-')[1]) * 7919) % 1009);

const enqueuedAt = new Map();
const results = new Map(); // jobId -> [{ kind, value, at }]
let done = 0;
const finish = new Promise((resolve) => {
  const note = (jobId, kind, value) => {
    if (!enqueuedAt.has(jobId)) return;
    const list = results.get(jobId) ?? [];
    list.push({ kind, value, at: Date.now() });
    results.set(jobId, list);
    if (list.length === 1 && ++done === jobs.length) resolve();
  };
  events.on('completed', ({ jobId, returnvalue }) => note(jobId, 'completed', returnvalue));
  events.on('failed', ({ jobId, failedReason }) => note(jobId, 'failed', failedReason));
});

const started = Date.now();
for (let i = 0; i < jobs.length; i += 100) {
  const chunk = jobs.slice(i, i + 100);
  const at = Date.now();
  for (const j of chunk) enqueuedAt.set(j.id, at);
  await queue.addBulk(chunk.map((j) => ({ name: j.data.action, data: j.data, opts: { jobId: j.id, attempts: 5, backoff: { type: 'exponential', delay: 500 } } })));
}
const enqueuedMs = Date.now() - started;
console.log(JSON.stringify({ progress: 'enqueued', count: jobs.length }));

await Promise.race([finish, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
const latencies = [];
const summary = { jobs: jobs.length, answered: results.size, completed: 0, failed: 0, repeated: 0, operations: new Set(), statuses: {}, failures: [], enqueuedMs, elapsedMs: Date.now() - started };
for (const [jobId, list] of results) {
  if (list.length > 1) summary.repeated++;
  const first = list[0];
  latencies.push(first.at - enqueuedAt.get(jobId));
  if (first.kind === 'completed') {
    summary.completed++;
    const op = typeof first.value === 'string' ? JSON.parse(first.value) : first.value;
    summary.operations.add(op.id);
    summary.statuses[op.status] = (summary.statuses[op.status] ?? 0) + 1;
  } else {
    summary.failed++;
    summary.failures.push({ jobId, reason: first.value });
  }
}
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? null;
summary.p50Ms = pct(50);
summary.p99Ms = pct(99);
summary.operations = summary.operations.size;
summary.lastResultMs = Math.max(0, ...[...results.values()].map((l) => l[0].at - started));
summary.summaryMs = Date.now() - started;
console.log(JSON.stringify({ summary }));
await Promise.race([Promise.all([events.close(), queue.close()]), new Promise((r) => setTimeout(r, 5000))]);
process.exit(0);
