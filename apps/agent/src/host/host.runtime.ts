import { Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { Driver } from '@hyperplane/drivers';
import { agentResultsQueueName, HostCommandBatchPayload, HostCommandPayload, hostQueueName, JobName, JobQueue, MultiQueueConsumer } from '@hyperplane/queue';
import { CommandHandler } from './command.handler';

export interface HostRuntimeOptions {
  hostId: string;
  /** The agent's id: its hosts' queues and its results queue are named after it. */
  agentId: string;
  key: string;
  drivers: Map<string, Driver>;
  queue: JobQueue;
  /** Shared by all the agent's hosts: a few Redis connections however many hosts there are. */
  consumer: MultiQueueConsumer;
  /** How many commands of a command batch run at once (as many as jobs run at once per host). */
  concurrency?: number;
}

/** One host as its agent runs it: its drivers, the worker on its own queue, and its reports. */
export class HostRuntime {
  private readonly log = new Logger('agent');
  private readonly handler: CommandHandler;

  constructor(readonly opts: HostRuntimeOptions) {
    this.handler = new CommandHandler(opts.hostId, opts.drivers, opts.queue, agentResultsQueueName(opts.agentId), { concurrency: opts.concurrency });
  }

  get hostId(): string {
    return this.opts.hostId;
  }

  /** Starts taking this host's commands (only from its own queue, `host-<agentId>-<hostId>`). */
  start(): void {
    this.opts.consumer.add(hostQueueName(this.opts.agentId, this.opts.hostId), async (job: Job) => {
      if (job.name === (JobName.HostCommand as string)) return this.handler.handle(job.data as HostCommandPayload, job as Job<HostCommandPayload>);
      if (job.name === (JobName.HostCommandBatch as string)) return this.handler.handleBatch(job.data as HostCommandBatchPayload, job as Job<HostCommandBatchPayload>);
      throw new Error(`no handler for job ${job.name} on a host queue`);
    });
  }

  /** Reports what really exists on the host, so the controller can correct drifted instances. */
  async sync(): Promise<void> {
    // Taken before listing: instances that change while we list are left for the next report.
    const observedAt = new Date().toISOString();
    const instances: { id: string; state: 'running' | 'stopped' | 'suspended'; details?: Record<string, unknown> }[] = [];
    for (const driver of this.opts.drivers.values()) {
      try {
        for (const s of await driver.list()) instances.push({ id: s.id, state: s.state, ...(s.details?.exitReason ? { details: { exitReason: s.details.exitReason } } : {}) });
      } catch (e) {
        // A driver that cannot list must not make its instances look missing: skip the report.
        this.log.warn(`${driver.name} list failed on ${this.opts.key}: ${String(e)}`);
        return;
      }
    }
    await this.opts.queue.enqueue({
      queue: agentResultsQueueName(this.opts.agentId),
      name: JobName.AgentSync,
      jobId: `sync-${this.opts.hostId}-${Date.now()}`,
      data: { hostId: this.opts.hostId, observedAt, instances },
    });
  }

  async stop(): Promise<void> {
    await this.opts.consumer.remove(hostQueueName(this.opts.agentId, this.opts.hostId));
  }
}
