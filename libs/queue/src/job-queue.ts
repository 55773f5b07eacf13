import { JobsOptions, Queue, QueueKeys } from 'bullmq';
import { Redis } from 'ioredis';
import { hostCommandDelayMs, JOB_OPTIONS } from './job-options';
import { JobName, JobPayloads } from './job-names';
import { createRedis, endRedis, RedisSettings } from './redis-connection';
import { sendAbort } from './abort-channel';

/** A message bound for a queue, as stored in the outbox and as enqueued. */
export interface QueueMessage<N extends JobName = JobName> {
  queue: string;
  name: N;
  jobId: string;
  data: JobPayloads[N];
}

// KEYS: per queue its wait, prioritized, active and delayed keys. Returns {waiting, active, delayed}.
const COUNT_JOBS_LUA = `
local w, a, d = 0, 0, 0
for i = 1, #KEYS, 4 do
  w = w + redis.call('LLEN', KEYS[i]) + redis.call('ZCARD', KEYS[i + 1])
  a = a + redis.call('LLEN', KEYS[i + 2])
  d = d + redis.call('ZCARD', KEYS[i + 3])
end
return {w, a, d}`;

/** A job's options: its name's, and a command sent again after a failure waits (hostCommandDelayMs). */
function optionsOf(message: QueueMessage): JobsOptions {
  const options = JOB_OPTIONS[message.name];
  if (message.name !== JobName.HostCommand) return options;
  const delay = hostCommandDelayMs((message.data as JobPayloads[JobName.HostCommand]).attempt);
  return delay > 0 ? { ...options, delay } : options;
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
    await this.queue(message.queue).add(message.name, message.data, { ...optionsOf(message), ...opts, jobId: message.jobId });
  }

  /** Adds many messages, one round trip per queue. */
  async enqueueMany(messages: QueueMessage[]): Promise<void> {
    const byQueue = new Map<string, QueueMessage[]>();
    for (const m of messages) byQueue.set(m.queue, [...(byQueue.get(m.queue) ?? []), m]);
    await Promise.all(
      [...byQueue].map(([queue, list]) =>
        this.queue(queue).addBulk(list.map((m) => ({ name: m.name, data: m.data, opts: { ...optionsOf(m), jobId: m.jobId } }))),
      ),
    );
  }

  /**
   * Adds a job and waits up to `timeoutMs` for its consumer's answer (the job's return value),
   * polling the job hash every `pollMs`. Resolves `{ answered: false }` when nobody answered in
   * time; a job still waiting then is removed, so that an agent coming back later does not run a
   * read nobody waits for. A job that failed resolves with its reason.
   */
  async ask<N extends JobName>(message: QueueMessage<N>, timeoutMs: number, pollMs = 50): Promise<{ answered: true; value: unknown } | { answered: false; failed?: string }> {
    await this.enqueue(message);
    const queue = this.queue(message.queue);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await queue.getJob(message.jobId);
      if (job?.finishedOn) {
        if (job.failedReason) return { answered: false, failed: job.failedReason };
        return { answered: true, value: job.returnvalue as unknown };
      }
      if (Date.now() >= deadline) {
        // Still waiting (no agent took it): gone for good. Taken but unfinished: left to end on its own.
        if (job && (await job.isWaiting())) await job.remove().catch(() => undefined);
        return { answered: false };
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  async jobState(queue: string, jobId: string): Promise<JobState> {
    return (await this.queue(queue).getJobState(jobId));
  }

  /** Removes a finished job so that the same id can be enqueued again. */
  async removeJob(queue: string, jobId: string): Promise<void> {
    const job = await this.queue(queue).getJob(jobId);
    if (job) await job.remove().catch(() => undefined);
  }

  /** Tells an agent to stop its host work for an operation (see abort-channel.ts). */
  async abort(agentId: string, operationId: string): Promise<void> {
    await sendAbort(this.connection, this.settings.prefix, agentId, operationId);
  }

  /**
   * Jobs waiting (with the prioritized), active and delayed, summed over `queues` by a script
   * on BullMQ's keys, a thousand queues a call: an agent with thousands of host queues answers
   * a scrape with a few commands, not four per queue.
   */
  async countJobs(queues: readonly string[]): Promise<{ waiting: number; active: number; delayed: number }> {
    const keys = new QueueKeys(this.settings.prefix);
    const sum = { waiting: 0, active: 0, delayed: 0 };
    for (let i = 0; i < queues.length; i += 1000) {
      const chunk = queues.slice(i, i + 1000).flatMap((q) => [keys.toKey(q, 'wait'), keys.toKey(q, 'prioritized'), keys.toKey(q, 'active'), keys.toKey(q, 'delayed')]);
      const [waiting, active, delayed] = (await this.connection.eval(COUNT_JOBS_LUA, chunk.length, ...chunk)) as [number, number, number];
      sum.waiting += waiting;
      sum.active += active;
      sum.delayed += delayed;
    }
    return sum;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    // QUIT would wait forever for a Redis that is unreachable or refuses our user.
    if (this.connection.status === 'ready') await this.connection.quit().catch(() => undefined);
    endRedis(this.connection);
  }
}
