// An external system handing work to Hyperplane through its job queue (docs/integrations/job-queue.md).
// Run: REDIS_URL=redis://127.0.0.1:6379 HYPERPLANE_REDIS_PREFIX=hp HYPERPLANE_TOKEN=<token> node examples/job-queue-producer.mjs [name]
// It asks for one container, waits for the finished operation, and prints it (or the refusal).
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';

const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const connection = { host: url.hostname, port: Number(url.port || 6379), password: url.password || undefined };
const prefix = process.env.HYPERPLANE_REDIS_PREFIX ?? 'hp';
const queueName = process.env.HYPERPLANE_REQUEST_QUEUE ?? 'hyperplane-requests';
const token = process.env.HYPERPLANE_TOKEN;
if (!token) throw new Error('set HYPERPLANE_TOKEN to an API token (an operator token of your project)');

const queue = new Queue(queueName, { connection, prefix });
const events = new QueueEvents(queueName, { connection, prefix });
await events.waitUntilReady();

const name = process.argv[2] ?? `from-queue-${Date.now().toString(36)}`;
// The idempotency key is your request's identity: add the same job again (after a crash, a
// timeout) with the same key and you get the same operation, never a second instance.
const idempotencyKey = `example-${name}`;
const job = await queue.add(
  'create',
  {
    action: 'create',
    idempotencyKey,
    token,
    body: { name, template: 'alpine-3.20', technology: 'container', resources: { vcpus: 1, memoryMiB: 256, diskGiB: 1 } },
  },
  // Using the key as the job id makes BullMQ drop a second add while the first is kept.
  { jobId: idempotencyKey.replace(/:/g, '_') || randomUUID(), attempts: 5, backoff: { type: 'exponential', delay: 1000 } },
);
try {
  const operation = await job.waitUntilFinished(events, 10 * 60_000);
  console.log(`operation ${operation.id}: ${operation.status}`, operation.error ?? '');
} catch (e) {
  // A refused job fails at once; its reason is the problem+json the HTTP API would have sent.
  console.error('refused:', e.message);
  process.exitCode = 1;
} finally {
  await events.close();
  await queue.close();
}
