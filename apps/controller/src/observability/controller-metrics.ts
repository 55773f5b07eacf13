import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { HOST_STATUSES } from '@hyperplane/domain';
import { AgentRepository, Database, HostRepository, OutboxRepository } from '@hyperplane/db';
import { addScrapeSource, heartbeatAge, hostsByStatus, outboxOldestAge, outboxPending, placementDecisions, placementDuration, queueJobs, ReadinessChecks } from '@hyperplane/observability';
import { agentResultsQueueName, HeartbeatStore, JobQueue, QueueName } from '@hyperplane/queue';
import type { PlacementDecision } from '@hyperplane/scheduler';

const single = placementDuration.labels('single');
const batch = placementDuration.labels('batch');
const placed = placementDecisions.labels('placed');
const unschedulable = placementDecisions.labels('unschedulable');

/** One call of the scheduler: its time, and how many instances it placed or could not. */
export function observePlacement(count: number, seconds: number, decisions: readonly PlacementDecision[]): void {
  (count === 1 ? single : batch).observe(seconds);
  let ok = 0;
  for (const d of decisions) if (d.ok) ok++;
  if (ok) placed.inc(ok);
  if (decisions.length - ok) unschedulable.inc(decisions.length - ok);
}

/** The q-quantile of sorted values (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * What the controller measures when Prometheus asks: hosts by status, the age of their last
 * heartbeats, the outbox's backlog and the control queues' depths — a few queries a scrape,
 * nothing per heartbeat or per host. Also its readiness: PostgreSQL and Redis answer.
 */
@Injectable()
export class ControllerMetrics implements OnModuleInit, OnApplicationShutdown {
  private remove: (() => void) | null = null;

  constructor(
    private readonly db: Database,
    private readonly hosts: HostRepository,
    private readonly outbox: OutboxRepository,
    @Inject(HeartbeatStore) private readonly beats: HeartbeatStore,
    @Inject(JobQueue) private readonly queue: JobQueue,
    private readonly agents: AgentRepository,
  ) {}

  onModuleInit(): void {
    this.remove = addScrapeSource(() => this.collect());
  }

  onApplicationShutdown(): void {
    this.remove?.();
  }

  /** Set by startController once the relay, the reconciler and the workers run: ready means working, not just listening. */
  started = false;

  readinessChecks(): ReadinessChecks {
    return {
      started: async () => {
        if (!this.started) throw new Error('starting');
      },
      postgres: () => this.db.ping(),
      redis: () => this.queue.connection.ping(),
    };
  }

  private async collect(): Promise<void> {
    await Promise.all([this.collectHosts(), this.collectOutbox(), this.collectQueues(), this.collectHeartbeats()]);
  }

  private async collectHosts(): Promise<void> {
    const counts = await this.hosts.countByStatus();
    for (const status of HOST_STATUSES) hostsByStatus.labels(status).set(counts.get(status) ?? 0);
  }

  private async collectOutbox(): Promise<void> {
    const { pending, oldestAgeS } = await this.outbox.backlog();
    outboxPending.set(pending);
    outboxOldestAge.set(oldestAgeS);
  }

  private async collectQueues(): Promise<void> {
    // Every agent's results queue counts under one label.
    const results = (await this.agents.ids()).map(agentResultsQueueName);
    await Promise.all(
      [
        { label: QueueName.Control as string, queues: [QueueName.Control as string] },
        { label: 'agent-results', queues: results },
      ].map(async ({ label: q, queues }) => {
        const c = await this.queue.countJobs(queues);
        queueJobs.labels(q, 'waiting').set(c.waiting);
        queueJobs.labels(q, 'active').set(c.active);
        queueJobs.labels(q, 'delayed').set(c.delayed);
      }),
    );
  }

  private async collectHeartbeats(): Promise<void> {
    const now = Date.now();
    const ages = [...(await this.beats.scores(await this.hosts.liveness())).values()].map((at) => Math.max(0, now - at) / 1000).sort((a, b) => a - b);
    heartbeatAge.labels('p50').set(quantile(ages, 0.5));
    heartbeatAge.labels('p99').set(quantile(ages, 0.99));
    heartbeatAge.labels('max').set(ages.at(-1) ?? 0);
  }
}
