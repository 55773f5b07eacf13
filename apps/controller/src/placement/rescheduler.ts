import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Database, InstanceRepository, OperationRepository, OutboxRepository } from '@hyperplane/db';
import { JobName, QueueName, runJobId } from '@hyperplane/queue';
import { PlacementService } from './placement.service';

const DEBOUNCE_MS = 500;
const EVERY_MS = 30_000;
const BATCH = 500;

/**
 * Unschedulable instances are tried again when capacity appears — a host joins or returns, an
 * instance is deleted — and every 30 s in case a change went unnoticed (like Nomad's blocked
 * evaluations). Only instances the scheduler would now place get a new create operation, so a
 * request no host can ever take does not churn.
 *
 * A create that arrives while a host that would take it is still enrolling does not come here:
 * it waits for that host (OperationRunner, bounded by the heartbeat timeout). One that waited
 * in vain is unschedulable like any other, and tried again here when the host becomes ready.
 */
@Injectable()
export class Rescheduler implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('reschedule');
  private timer: NodeJS.Timeout | null = null;
  private pending: NodeJS.Timeout | null = null;
  private busy: Promise<number> | null = null;

  constructor(
    private readonly db: Database,
    private readonly instances: InstanceRepository,
    private readonly operations: OperationRepository,
    private readonly outbox: OutboxRepository,
    private readonly placement: PlacementService,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.kick(), EVERY_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    await this.busy;
  }

  /** Something freed or added capacity: look again shortly (calls within 0.5 s coalesce). */
  kick(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      void this.run();
    }, DEBOUNCE_MS);
  }

  run(): Promise<number> {
    this.busy ??= this.retry()
      .catch((e: unknown) => {
        this.log.warn(`reschedule failed: ${e instanceof Error ? e.message : String(e)}`);
        return 0;
      })
      .finally(() => (this.busy = null));
    return this.busy;
  }

  private async retry(): Promise<number> {
    this.placement.invalidate();
    const candidates = await this.instances.unschedulable(BATCH);
    const ready: { id: string; projectId: string; instanceId: string }[] = [];
    for (const instance of candidates) {
      const template = await this.placement.template(instance.template);
      if (!template) continue;
      const request = await this.placement.requestFor(instance, template);
      if (await this.placement.wouldPlace(request, await this.placement.policyFor(instance.projectId))) {
        ready.push({ id: randomUUID(), projectId: instance.projectId, instanceId: instance.id });
      }
    }
    // Deciding takes a while (seconds for 500 candidates on a busy controller), and meanwhile
    // another create (another controller's retry, say) may have placed one: only those still
    // unschedulable now get a create. A create that still overtakes another in the moment
    // between this look and the insert ends by itself (CreateHandler: `overtaken`).
    const still = new Set((await this.instances.byIds(ready.map((r) => r.instanceId))).filter((i) => i.state === 'unschedulable').map((i) => i.id));
    const fresh = ready.filter((r) => still.has(r.instanceId));
    if (fresh.length === 0) return 0;
    const queued = await this.db.transaction(async (em) => {
      const ops = await this.operations.insertSystem(
        em,
        fresh.map((r) => ({ ...r, kind: 'create' as const, request: { reason: 'capacity appeared for an unschedulable instance' }, jobQueue: QueueName.Control, jobId: runJobId(r.id) })),
      );
      await this.outbox.add(
        em,
        ops.map((o) => ({ queue: QueueName.Control, jobName: JobName.RunOperation, jobId: runJobId(o.id), payload: { operationId: o.id } })),
      );
      return ops.length;
    });
    if (queued) this.log.log(`trying ${queued} unschedulable instance(s) again`);
    return queued;
  }
}
