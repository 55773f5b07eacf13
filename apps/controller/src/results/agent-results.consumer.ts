import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { AppConfig } from '@hyperplane/config';
import { AgentRepository, HOSTS_CHANNEL, PgListener } from '@hyperplane/db';
import {
  agentResultsQueueName,
  AgentProgressPayload,
  AgentResultBatchPayload,
  AgentResultPayload,
  AgentSyncPayload,
  JobName,
  MultiQueueConsumer,
  QUEUE_JOBS,
  RedisSettings,
} from '@hyperplane/queue';
import { DriftService } from '../hosts/drift.service';
import { HostAgents } from '../hosts/host-agents';
import { NOTIFY_LISTENER } from '../notify-listener';
import { ResultApplier } from './result.applier';
import { ResultBatcher } from './result.batcher';

/** Results waiting in the batcher hold a slot each until their batch commits. */
const RESULT_SLOTS = 256;
const HANDLED = [JobName.AgentResult, JobName.AgentResultBatch, JobName.AgentProgress, JobName.AgentSync];
/** New agents are noticed at once (NOTIFY at enrollment), and at least this often. */
const REFRESH_MS = 5_000;

/**
 * Consumes every agent's own results queue (`agent-results-<agentId>`) in one multiplexed
 * consumer. The queue a job came on says which agent sent it; a report about a host that is
 * not that agent's is refused (logged, counted, its job failed for good).
 */
@Injectable()
export class AgentResultsConsumer implements OnApplicationShutdown {
  private readonly log = new Logger('results');
  private consumer: MultiQueueConsumer | undefined;
  private readonly consumed = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;
  private refreshing: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly config: AppConfig,
    private readonly agents: AgentRepository,
    private readonly hostAgents: HostAgents,
    private readonly results: ResultApplier,
    private readonly batcher: ResultBatcher,
    private readonly drift: DriftService,
    @Inject(NOTIFY_LISTENER) private readonly listener: PgListener,
  ) {}

  async start(redis: RedisSettings): Promise<void> {
    this.consumer = new MultiQueueConsumer(redis, {
      concurrencyPerQueue: Math.max(RESULT_SLOTS, this.config.HYPERPLANE_CONTROLLER_CONCURRENCY),
      lockDuration: this.config.HYPERPLANE_JOB_LOCK_MS,
      name: 'controller-results',
      onError: (e, queue) => this.log.warn(`${queue ?? 'results'}: ${e.message}`),
    });
    // As startWorker does: refuse to start when the handlers do not cover exactly the queue's jobs.
    if ([...QUEUE_JOBS.agentResults].sort().join() !== [...HANDLED].sort().join()) throw new Error(`agent results need handlers for exactly ${QUEUE_JOBS.agentResults.join(', ')}`);
    this.unlisten = this.listener.on(HOSTS_CHANNEL, () => void this.refresh());
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    await this.refresh();
  }

  /** Starts consuming new agents' queues and stops consuming removed agents'. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        const ids = new Set(await this.agents.ids());
        for (const id of ids) if (!this.consumed.has(id)) this.add(id);
        for (const id of [...this.consumed]) {
          if (ids.has(id)) continue;
          this.consumed.delete(id);
          await this.consumer?.remove(agentResultsQueueName(id));
        }
      } while (this.again);
    })()
      .catch((e: unknown) => this.log.warn(`could not list agents: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.unlisten?.();
    await this.refreshing;
    await this.consumer?.close();
  }

  private add(agentId: string): void {
    if (!this.consumer) return;
    this.consumed.add(agentId);
    this.consumer.add(agentResultsQueueName(agentId), async (job: Job) => {
      try {
        await this.handle(agentId, job);
      } catch (e) {
        if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1) || e instanceof UnrecoverableError) {
          this.log.error(`job ${job.name} ${job.id} of agent ${agentId} gave up: ${e instanceof Error ? e.message : String(e)}`);
        }
        throw e;
      }
    });
  }

  private async handle(agentId: string, job: Job): Promise<void> {
    // The four jobs of QUEUE_JOBS.agentResults; anything else fails for good.
    switch (job.name as JobName) {
      case JobName.AgentResult: {
        const r = job.data as AgentResultPayload;
        await this.mustBeItsHosts(agentId, [r.hostId], r);
        return this.batcher.submit(r, agentId);
      }
      case JobName.AgentResultBatch: {
        const batch = job.data as AgentResultBatchPayload;
        await this.mustBeItsHosts(agentId, [batch.hostId, ...batch.results.map((r) => r.hostId)], batch.results[0]);
        await Promise.all(batch.results.map((r) => this.batcher.submit(r, agentId)));
        return;
      }
      case JobName.AgentProgress: {
        const p = job.data as AgentProgressPayload;
        await this.mustBeItsHosts(agentId, [p.hostId]);
        return this.results.progress(p, agentId);
      }
      case JobName.AgentSync: {
        const s = job.data as AgentSyncPayload;
        await this.mustBeItsHosts(agentId, [s.hostId]);
        await this.drift.apply(s);
        return;
      }
      case JobName.RunOperation:
      case JobName.CancelOperation:
      case JobName.HostCommand:
      case JobName.HostCommandBatch:
      case JobName.WebhookDeliver:
      case JobName.ConsoleRead:
        break;
    }
    throw new UnrecoverableError(`no handler for job ${job.name} on an agent's results queue`);
  }

  /** Refuses a report that names a host of another agent (or no host at all). */
  private async mustBeItsHosts(agentId: string, hostIds: string[], sample?: AgentResultPayload): Promise<void> {
    const owners = await this.hostAgents.of(hostIds);
    const foreign = hostIds.find((id) => owners.get(id) !== agentId);
    if (foreign === undefined) return;
    if (sample) this.results.reject({ ...sample, hostId: foreign }, agentId, 'that host is not this agent\'s');
    else {
      this.results.rejected++;
      this.log.warn(`refused a report from agent ${agentId} about host ${foreign}, which is not its own`);
    }
    throw new UnrecoverableError(`host ${foreign} is not agent ${agentId}'s`);
  }
}
