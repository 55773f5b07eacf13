import { Job, UnrecoverableError, Worker } from 'bullmq';
import { createRedis, RedisSettings } from './redis-connection';

/**
 * A job an external system adds to the inbound request queue (docs/integrations/job-queue.md):
 * the same requests as the HTTP API, authenticated by the token inside.
 */
export interface RequestJob {
  action: string;
  /** Required: what makes a job run again after a crash answer with the same operation. */
  idempotencyKey: string;
  /** An API token's secret: the job acts with its role and projects. */
  token: string;
  /** For everything but create and batch. */
  instanceId?: string;
  /** For restore and snapshot-delete. */
  snapshot?: string;
  /** The HTTP request's body (create, batch, snapshot, clone, resize). */
  body?: Record<string, unknown>;
  /** `finished` (default): the result is the finished operation; `accepted`: the operation as accepted. */
  respondWhen?: 'accepted' | 'finished';
}

/** A refusal that a retry cannot mend: the job fails at once with `problem` as its reason. */
export class RequestRefused extends Error {
  constructor(readonly problem: Record<string, unknown>) {
    super(JSON.stringify(problem));
  }
}

/**
 * Consumes the inbound request queue. `handle` returns the job's result; a RequestRefused
 * fails the job for good (UnrecoverableError: BullMQ does not retry it); anything else is
 * rethrown and retried if the producer gave the job attempts.
 */
export function startRequestWorker(
  redis: RedisSettings,
  queue: string,
  handle: (data: RequestJob, job: Job<RequestJob>) => Promise<unknown>,
  settings: { concurrency: number; lockDuration: number },
): Worker {
  const connection = createRedis(redis, `requests-${queue}`);
  const worker = new Worker(
    queue,
    async (job: Job<RequestJob>) => {
      try {
        return await handle(job.data, job);
      } catch (e) {
        if (e instanceof RequestRefused) throw new UnrecoverableError(e.message);
        throw e;
      }
    },
    {
      connection,
      prefix: redis.prefix,
      concurrency: settings.concurrency,
      lockDuration: settings.lockDuration,
      stalledInterval: Math.max(1000, Math.floor(settings.lockDuration / 2)),
      maxStalledCount: 5,
    },
  );
  worker.on('error', () => undefined); // connection errors: ioredis reconnects
  worker.on('closed', () => void connection.quit().catch(() => connection.disconnect()));
  return worker;
}
