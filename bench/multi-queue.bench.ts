// One MultiQueueConsumer on 10,000 host queues: throughput, Redis connections, memory, idle cost.
// Prints figures; it is not a test. Usage:
//   npm run build && node dist/bench/multi-queue.bench.js [--queues 10000] [--jobs 100000] [--concurrency 1]
// The producer (Queue.addBulk, the jobs' real options) runs in a child process, as the
// controller would. Two rounds: "backlog" (all jobs added, then the consumer starts) and "live"
// (the consumer is running and idle on every queue when the jobs are added).
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createRedis, deleteRedisPrefix, JOB_OPTIONS, JobName, MultiQueueConsumer } from '@hyperplane/queue';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const QUEUES = Number(arg('queues') ?? 10_000);
const JOBS = Number(arg('jobs') ?? 100_000);
const CONCURRENCY = Number(arg('concurrency') ?? 1);

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);
const queueNames = (id: string): string[] => Array.from({ length: QUEUES }, (_, i) => `host-${String(i).padStart(5, '0')}-${id}`);

async function connectionsNamed(redis: Redis, prefix: string): Promise<number> {
  const list = String(await redis.client('LIST'));
  return list.split('\n').filter((line) => line.includes(` name=${prefix}`)).length;
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  return [...info.matchAll(/^used_cpu_(?:user|sys):([\d.]+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** The child process: adds JOBS host commands spread evenly over the queues, one addBulk per queue. */
async function producer(id: string): Promise<void> {
  const connection = createRedis({ url: REDIS_URL, prefix: `bench-mq-${id}` }, `bench-mq-producer-${id}`);
  const queues = queueNames(id).map((n) => new Queue(n, { connection, prefix: `bench-mq-${id}` }));
  for (const q of queues) q.on('error', () => undefined);
  const perQueue = Math.ceil(JOBS / queues.length);
  process.on('message', (message: { round?: string }) => {
    void (async () => {
      if (!message.round) {
        await Promise.all(queues.map((q) => q.close()));
        connection.disconnect();
        process.exit(0);
      }
      const round = message.round;
      const t0 = performance.now();
      let added = 0;
      for (let from = 0; from < queues.length; from += 500) {
        await Promise.all(
          queues.slice(from, from + 500).map((q) => {
            const count = Math.min(perQueue, JOBS - added);
            added += count;
            return q.addBulk(
              Array.from({ length: count }, (_, i) => ({
                name: JobName.HostCommand,
                data: { operationId: `${round}-${q.name}-${i}`, hostId: q.name, command: 'start' },
                opts: { ...JOB_OPTIONS[JobName.HostCommand], jobId: `${round}-${i}` },
              })),
            );
          }),
        );
      }
      process.send?.({ addMs: performance.now() - t0 });
    })();
  });
  process.send?.({ ready: true });
}

async function main(): Promise<void> {
  const id = randomUUID().slice(0, 8);
  const prefix = `bench-mq-${id}`;
  const name = `bench-mq-${id}`;
  const settings = { url: REDIS_URL, prefix };
  const admin = createRedis(settings, `bench-mq-admin-${id}`);
  const child = fork(__filename, ['--producer', id, '--queues', String(QUEUES), '--jobs', String(JOBS)]);
  const fromChild = (): Promise<{ addMs?: number }> => new Promise((resolve) => child.once('message', resolve));
  await fromChild();
  const produce = async (round: string): Promise<number> => {
    const answer = fromChild();
    child.send({ round });
    return (await answer).addMs ?? 0;
  };
  console.log(`multi_queue_consumer queues=${QUEUES} jobs_per_round=${JOBS} concurrency_per_queue=${CONCURRENCY} job_options=host.command node=${process.version}`);
  const rssBefore = process.memoryUsage().rss;

  let done = 0;
  let target = 0;
  let finished: () => void = () => undefined;
  let errors = 0;
  const consumer = new MultiQueueConsumer(settings, { concurrencyPerQueue: CONCURRENCY, lockDuration: 30_000, name, onError: () => errors++ });
  const handler = async (): Promise<void> => {
    if (++done === target) finished();
  };
  const allDone = (): Promise<void> =>
    new Promise((resolve) => {
      target = done + JOBS;
      finished = resolve;
    });

  try {
    const addMs1 = await produce('backlog');
    const round1 = allDone();
    const cpu1 = process.cpuUsage();
    const redis1 = await redisCpuSeconds(admin);
    const t1 = performance.now();
    for (const n of queueNames(id)) consumer.add(n, handler);
    await round1;
    const ms1 = performance.now() - t1;
    const c1 = process.cpuUsage(cpu1);
    console.log(
      `round=backlog add_ms=${addMs1.toFixed(0)} consume_ms=${ms1.toFixed(0)} jobs_per_s=${((JOBS / ms1) * 1000).toFixed(0)} consumer_cpu_s=${((c1.user + c1.system) / 1e6).toFixed(1)} redis_cpu_s=${((await redisCpuSeconds(admin)) - redis1).toFixed(1)}`,
    );

    // Idle: every queue is watched, nothing to do.
    await new Promise((r) => setTimeout(r, 3000));
    const idleMs = 15_000;
    const cpu0 = process.cpuUsage();
    const redis0 = await redisCpuSeconds(admin);
    await new Promise((r) => setTimeout(r, idleMs));
    const cpu = process.cpuUsage(cpu0);
    const redisIdle = (await redisCpuSeconds(admin)) - redis0;
    console.log(
      `idle seconds=${idleMs / 1000} consumer_cpu_ms_per_s=${((cpu.user + cpu.system) / 1000 / (idleMs / 1000)).toFixed(1)} redis_cpu_ms_per_s=${((redisIdle * 1000) / (idleMs / 1000)).toFixed(1)} (whole server) rss_mib=${mib(process.memoryUsage().rss)}`,
    );

    const round2 = allDone();
    const cpu2 = process.cpuUsage();
    const redis2 = await redisCpuSeconds(admin);
    const t2 = performance.now();
    const addMs2 = await produce('live');
    await round2;
    const ms2 = performance.now() - t2;
    const c2 = process.cpuUsage(cpu2);
    console.log(
      `round=live add_ms=${addMs2.toFixed(0)} first_add_to_last_done_ms=${ms2.toFixed(0)} jobs_per_s=${((JOBS / ms2) * 1000).toFixed(0)} consumer_cpu_s=${((c2.user + c2.system) / 1e6).toFixed(1)} redis_cpu_s=${((await redisCpuSeconds(admin)) - redis2).toFixed(1)}`,
    );

    const conns = await connectionsNamed(admin, `hyperplane-${name}:`);
    const mem = process.memoryUsage();
    console.log(`consumer redis_connections=${conns} rss_mib=${mib(mem.rss)} (before the consumer ${mib(rssBefore)}) heap_used_mib=${mib(mem.heapUsed)} errors=${errors}`);
  } finally {
    await consumer.close();
    console.log(`after_close redis_connections=${await connectionsNamed(admin, `hyperplane-${name}:`)}`);
    child.send({});
    await new Promise((r) => child.once('exit', r));
    await deleteRedisPrefix(REDIS_URL, prefix);
    admin.disconnect();
  }
}

const producerId = arg('producer');
(producerId ? producer(producerId) : main()).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
