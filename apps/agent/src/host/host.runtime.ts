import { Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { Driver, InstanceObservation } from '@hyperplane/drivers';
import { agentResultsQueueName, AgentSyncPayload, ConsoleReadPayload, HostCommandBatchPayload, HostCommandPayload, hostQueueName, JobName, JobQueue, MultiQueueConsumer, syncJobId } from '@hyperplane/queue';
import { CommandHandler } from './command.handler';
import { OperationAborts } from './operation-aborts';

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
  /** The agent's abort signals, shared by its hosts. */
  aborts?: OperationAborts;
  /** Periodic syncs that found nothing new send a report anyway every this many passes (default 10). */
  fullReportEvery?: number;
}

/** A driver's instances and states, the cheap way when it has one. */
async function observe(driver: Driver): Promise<InstanceObservation[]> {
  if (driver.observe) return driver.observe();
  return (await driver.list()).map((s) => ({
    id: s.id,
    state: s.state,
    ...(typeof s.details?.exitReason === 'string' ? { exitReason: s.details.exitReason } : {}),
  }));
}

/** One host as its agent runs it: its drivers, the worker on its own queue, and its reports. */
export class HostRuntime {
  private readonly log = new Logger('agent');
  private readonly handler: CommandHandler;
  private syncing?: Promise<boolean>;
  /** What the last report said, and the periodic passes since that found the same. */
  private lastReport?: string;
  private quietPasses = 0;

  constructor(readonly opts: HostRuntimeOptions) {
    this.handler = new CommandHandler(opts.hostId, opts.drivers, opts.queue, agentResultsQueueName(opts.agentId), { concurrency: opts.concurrency, ...(opts.aborts ? { aborts: opts.aborts } : {}) });
  }

  get hostId(): string {
    return this.opts.hostId;
  }

  /** Starts taking this host's commands (only from its own queue, `host-<agentId>-<hostId>`). */
  start(): void {
    this.opts.consumer.add(hostQueueName(this.opts.agentId, this.opts.hostId), async (job: Job) => {
      if (job.name === (JobName.HostCommand as string)) return this.handler.handle(job.data as HostCommandPayload, job as Job<HostCommandPayload>);
      if (job.name === (JobName.HostCommandBatch as string)) return this.handler.handleBatch(job.data as HostCommandBatchPayload, job as Job<HostCommandBatchPayload>);
      if (job.name === (JobName.ConsoleRead as string)) return this.handler.readConsole(job.data as ConsoleReadPayload);
      throw new Error(`no handler for job ${job.name} on a host queue`);
    });
  }

  /**
   * Reports what really exists on the host, so the controller can correct drifted instances.
   * The report is always the full set (the controller takes a missing instance as gone). With
   * `onlyChanged` (the periodic sync) a pass that finds the same as the last report sends
   * nothing, except every `fullReportEvery`-th pass. Resolves true when it sent a report.
   */
  sync(opts: { onlyChanged?: boolean } = {}): Promise<boolean> {
    const onlyChanged = opts.onlyChanged ?? false;
    // One pass at a time: a periodic pass joins one in flight; a full one runs after it.
    if (this.syncing && onlyChanged) return this.syncing;
    const previous = this.syncing?.catch(() => false);
    const pass: Promise<boolean> = (async () => {
      await previous;
      return this.syncPass(onlyChanged);
    })().finally(() => {
      if (this.syncing === pass) this.syncing = undefined;
    });
    this.syncing = pass;
    return pass;
  }

  private async syncPass(onlyChanged: boolean): Promise<boolean> {
    // Taken before listing: instances that change while we list are left for the next report.
    const observedAt = new Date().toISOString();
    const observed: InstanceObservation[] = [];
    for (const driver of this.opts.drivers.values()) {
      try {
        observed.push(...(await observe(driver)));
      } catch (e) {
        // A driver that cannot list must not make its instances look missing: skip the report.
        this.log.warn(`${driver.name} list failed on ${this.opts.key}: ${String(e)}`);
        return false;
      }
    }
    const instances: AgentSyncPayload['instances'] = observed.map((o) => ({ id: o.id, state: o.state, ...(o.exitReason ? { details: { exitReason: o.exitReason } } : {}) }));
    const fingerprint = observed
      .map((o) => `${o.id}:${o.state}:${o.exitReason ?? ''}`)
      .sort()
      .join('\n');
    if (onlyChanged && fingerprint === this.lastReport && ++this.quietPasses < (this.opts.fullReportEvery ?? 10)) return false;
    await this.opts.queue.enqueue({
      queue: agentResultsQueueName(this.opts.agentId),
      name: JobName.AgentSync,
      jobId: syncJobId(this.opts.hostId, Date.now()),
      data: { hostId: this.opts.hostId, observedAt, instances },
    });
    this.lastReport = fingerprint;
    this.quietPasses = 0;
    return true;
  }

  async stop(): Promise<void> {
    await this.opts.consumer.remove(hostQueueName(this.opts.agentId, this.opts.hostId));
  }
}
