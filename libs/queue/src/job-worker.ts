import { DelayedError, Job, Worker, WorkerOptions } from 'bullmq';
import { JobName, JobPayloads } from './job-names';
import { observeJob } from './job-metrics';
import { createRedis, RedisSettings } from './redis-connection';

/**
 * Thrown by a handler that cannot go on yet (e.g. it waits for a host to finish enrolling):
 * the job is run again after `delayMs`, without counting a failed attempt.
 */
export class RetryLater extends Error {
  constructor(
    readonly delayMs: number,
    reason: string,
  ) {
    super(reason);
  }
}

export type JobHandler<N extends JobName> = (data: JobPayloads[N], job: Job<JobPayloads[N]>) => Promise<void>;
export type JobHandlers<N extends JobName> = { [K in N]: JobHandler<K> };

export interface WorkerSettings extends Partial<Pick<WorkerOptions, 'concurrency' | 'lockDuration' | 'stalledInterval' | 'maxStalledCount'>> {
  name?: string;
}

/**
 * Starts a worker on `queue` that dispatches by job name. Like immich, it refuses to start
 * when the handlers do not cover exactly the queue's jobs; a job of an unknown name fails.
 */
export function startWorker<N extends JobName>(
  redis: RedisSettings,
  queue: string,
  expected: readonly N[],
  handlers: JobHandlers<N>,
  settings: WorkerSettings = {},
): Worker {
  const given = Object.keys(handlers).sort();
  const wanted = [...expected].sort();
  if (given.join() !== wanted.join()) {
    throw new Error(`queue ${queue} needs handlers for exactly [${wanted.join(', ')}], got [${given.join(', ')}]`);
  }
  const lockDuration = settings.lockDuration ?? 30_000;
  const connection = createRedis(redis, settings.name ?? `worker-${queue}`);
  const worker = new Worker(
    queue,
    async (job: Job, token?: string) => {
      const handler = (handlers as unknown as Record<string, ((data: unknown, job: Job) => Promise<void>) | undefined>)[job.name];
      if (!handler) throw new Error(`no handler for job ${job.name} on ${queue}`);
      await observeJob(queue, job, async () => {
        try {
          await handler(job.data, job);
        } catch (e) {
          if (!(e instanceof RetryLater)) throw e;
          await job.moveToDelayed(Date.now() + e.delayMs, token);
          throw new DelayedError();
        }
      });
    },
    {
      connection,
      prefix: redis.prefix,
      concurrency: settings.concurrency ?? 1,
      lockDuration,
      stalledInterval: settings.stalledInterval ?? Math.max(1000, Math.floor(lockDuration / 2)),
      maxStalledCount: settings.maxStalledCount ?? 5,
      autorun: true,
    },
  );
  worker.on('error', () => undefined); // connection errors: ioredis reconnects
  // BullMQ closes only the connections it made; this one is ours.
  worker.on('closed', () => void connection.quit().catch(() => connection.disconnect()));
  return worker;
}
