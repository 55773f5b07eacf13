import { JobsOptions, Queue, QueueKeys } from 'bullmq';
import { Redis } from 'ioredis';
import { JOB_OPTIONS } from './job-options';
import { JobName, JobPayloads } from './job-names';
import { createRedis, RedisSettings } from './redis-connection';

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

  /**
   * Jobs waiting (with the prioritized), active and delayed, summed over `queues`: pipelined
   * LLEN/ZCARD on BullMQ's keys, a thousand queues a round trip, so an agent with thousands of
   * host queues can answer a scrape.
   */
  async countJobs(queues: readonly string[]): Promise<{ waiting: number; active: number; delayed: number }> {
    const keys = new QueueKeys(this.settings.prefix);
    const sum = { waiting: 0, active: 0, delayed: 0 };
    for (let i = 0; i < queues.length; i += 1000) {
      const pipeline = this.connection.pipeline();
      for (const q of queues.slice(i, i + 1000)) {
        pipeline.llen(keys.toKey(q, 'wait')).zcard(keys.toKey(q, 'prioritized')).llen(keys.toKey(q, 'active')).zcard(keys.toKey(q, 'delayed'));
      }
      const answers = (await pipeline.exec()) ?? [];
      answers.forEach(([error, n], j) => {
        if (error) throw error;
        const which = j % 4;
        if (which < 2) sum.waiting += Number(n);
        else if (which === 2) sum.active += Number(n);
        else sum.delayed += Number(n);
      });
    }
    return sum;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    await this.connection.quit().catch(() => undefined);
  }
}
