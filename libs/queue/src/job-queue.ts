import { JobsOptions, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { JOB_OPTIONS } from './job-options';
import { JobName, JobPayloads } from './job-names';
import { createRedis, endRedis, RedisSettings } from './redis-connection';

/** A message bound for a queue, as stored in the outbox and as enqueued. */
export interface QueueMessage<N extends JobName = JobName> {
  queue: string;
  name: N;
  jobId: string;
  data: JobPayloads[N];
}

export type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'prioritized' | 'waiting-children' | 'unknown';

/**
 * The one way to put work on a queue: typed by job name, with that job's retry options, and
 * always with an explicit job id so that enqueueing twice is harmless.
 */
export class JobQueue {
  private readonly queues = new Map<string, Queue>();
  readonly connection: Redis;

  constructor(private readonly settings: RedisSettings, name = 'producer') {
    this.connection = createRedis(settings, name);
    this.connection.on('error', () => undefined); // ioredis reconnects; errors surface on calls
  }

  get prefix(): string {
    return this.settings.prefix;
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.settings.prefix });
      q.on('error', () => undefined); // reconnects are handled by ioredis; errors surface on calls
      this.queues.set(name, q);
    }
    return q;
  }

  async enqueue<N extends JobName>(message: QueueMessage<N>, opts: JobsOptions = {}): Promise<void> {
    await this.queue(message.queue).add(message.name, message.data, { ...JOB_OPTIONS[message.name], ...opts, jobId: message.jobId });
  }

  /** Adds many messages, one round trip per queue. */
  async enqueueMany(messages: QueueMessage[]): Promise<void> {
    const byQueue = new Map<string, QueueMessage[]>();
    for (const m of messages) byQueue.set(m.queue, [...(byQueue.get(m.queue) ?? []), m]);
    await Promise.all(
      [...byQueue].map(([queue, list]) =>
        this.queue(queue).addBulk(list.map((m) => ({ name: m.name, data: m.data, opts: { ...JOB_OPTIONS[m.name], jobId: m.jobId } }))),
      ),
    );
  }

  async jobState(queue: string, jobId: string): Promise<JobState> {
    return (await this.queue(queue).getJobState(jobId));
  }

  /** Removes a finished job so that the same id can be enqueued again. */
  async removeJob(queue: string, jobId: string): Promise<void> {
    const job = await this.queue(queue).getJob(jobId);
    if (job) await job.remove().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    // QUIT would wait forever for a Redis that is unreachable or refuses our user.
    if (this.connection.status === 'ready') await this.connection.quit().catch(() => undefined);
    endRedis(this.connection);
  }
}
