import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { statesLeadingTo } from '@hyperplane/domain';
import { AuditRepository, Database, DEFAULT_PROJECT_ID, HostEntity, HostRepository, OperationRepository, OutboxRepository, Tx } from '@hyperplane/db';
import { JobName, QueueName, runJobId } from '@hyperplane/queue';

/** Who starts an evacuation when a drain's deadline passes (the operation's initiator, the audit entry's token name). */
export const DRAIN_DEADLINE_INITIATOR = 'system:drain-deadline';

const EVERY_MS = 1000;

/** Instances a migration can move (running or stopped); the others stay where they are. */
const MOVABLE = statesLeadingTo('migrating').filter((s) => s !== 'migrating');

type Acted = { kind: 'evacuating'; operationId: string; moving: number; skipped: number } | { kind: 'under-way'; operationId: string } | { kind: 'empty'; left: number } | { kind: 'waiting' };

/**
 * Drain with a deadline (POST /v1/hosts/{id}/actions/drain { deadline | deadlineS }): once the
 * deadline has passed on a host still draining, its instances are evacuated by one `evacuate`
 * operation, made as the API's evacuate makes it (children queued by the same repository call,
 * under the same lock on the host's row, so there is never a second evacuation of a host).
 *
 * Everything it knows is in the host's row: the deadline and whether it was acted on
 * (`drain_deadline_reached_at`, `drain_evacuation_id`), written in the one transaction that makes
 * the evacuation, its outbox message and its audit entry. A crash before the commit leaves
 * nothing (the next tick, here or on another controller, does it again); after, the row says it
 * was done. Any number of controllers may run it: the row is taken with SKIP LOCKED and checked
 * again under the lock, so one of them acts and the others see it done.
 *
 * When nothing can be moved at the deadline: instances busy with an operation of their own are
 * waited for (tried again each tick); a host with nothing movable left is marked reached
 * without an operation.
 */
@Injectable()
export class DrainDeadlineWatcher implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('drain');
  private timer: NodeJS.Timeout | null = null;
  private busy: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    private readonly hosts: HostRepository,
    private readonly operations: OperationRepository,
    private readonly outbox: OutboxRepository,
    private readonly audit: AuditRepository,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.tick(), EVERY_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.busy;
  }

  tick(): Promise<void> {
    this.busy ??= this.check()
      .catch((e: unknown) => this.log.warn(`drain deadline check failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (this.busy = null));
    return this.busy;
  }

  private async check(): Promise<void> {
    for (const id of await this.hosts.drainDue(100)) {
      try {
        await this.act(id);
      } catch (e) {
        this.log.warn(`drain deadline of host ${id}: ${e instanceof Error ? e.message : String(e)}; trying again`);
      }
    }
  }

  /** Acts on one host's passed deadline, in one transaction; answers what it did (null: another controller holds it, or it is no longer due). */
  async act(hostId: string): Promise<Acted | null> {
    const acted = await this.db.transaction(async (em) => {
      const host = await this.hosts.lockDrainDue(em, hostId);
      if (!host) return null;
      const deadline = new Date(host.drainDeadline!).toISOString();
      // One evacuation of a host at a time: one under way (an administrator's) is the one.
      const active = await this.operations.activeEvacuation(em, host.id);
      if (active) {
        await this.hosts.recordDrainDeadlineReached(em, host.id, active.id, `drain deadline ${deadline} passed: evacuation ${active.id} already under way`);
        return { kind: 'under-way', operationId: active.id } as const;
      }
      const candidates = await this.operations.evacuationCandidates(em, host.id, MOVABLE);
      if (candidates.idle === 0) {
        // Nothing to move now. Instances busy with an operation may be movable once it ends.
        if (candidates.busy > 0) return { kind: 'waiting' } as const;
        const left = candidates.total;
        const why = left === 0 ? 'the host is empty' : `${left} instance(s) left that are neither running nor stopped`;
        await this.hosts.recordDrainDeadlineReached(em, host.id, null, `drain deadline ${deadline} passed: nothing to evacuate (${why})`);
        return { kind: 'empty', left } as const;
      }
      return this.evacuate(em, host, deadline);
    });
    if (!acted) return null;
    if (acted.kind === 'evacuating') {
      this.log.warn(`host ${hostId}: drain deadline passed; evacuating ${acted.moving} instance(s) (operation ${acted.operationId}, ${acted.skipped} left)`);
    } else if (acted.kind === 'under-way') {
      this.log.log(`host ${hostId}: drain deadline passed during evacuation ${acted.operationId}`);
    }
    return acted;
  }

  /** The evacuation, as the API makes one: the parent (on the control queue through the outbox), its children, the audit entry and the host's record. */
  private async evacuate(em: Tx, host: HostEntity, deadline: string): Promise<Acted> {
    const id = randomUUID();
    const jobId = runJobId(id);
    const request = { hostId: host.id, hostName: host.name, initiator: DRAIN_DEADLINE_INITIATOR, drainDeadline: deadline };
    await this.operations.insert(em, [
      {
        id,
        projectId: DEFAULT_PROJECT_ID,
        instanceId: null,
        kind: 'evacuate',
        status: 'queued',
        progress: 0,
        step: 'queued',
        request,
        requestedBy: null,
        requestId: null,
        jobQueue: QueueName.Control,
        jobId,
        jobData: { operationId: id },
      },
    ]);
    const { moving, skipped } = await this.operations.insertEvacuationChildren(em, { id, hostId: host.id, hostName: host.name, requestedBy: null, requestId: null }, MOVABLE);
    // Every candidate got an operation of its own since it was counted: roll back, try again next tick.
    if (moving === 0) throw new Error('its instances became busy meanwhile');
    await this.operations.patch(em, id, { request: { ...request, count: moving, skipped } });
    await this.outbox.add(em, [{ queue: QueueName.Control, jobName: JobName.RunOperation, jobId, payload: { operationId: id } }]);
    await this.audit.append(
      [{ tokenId: null, tokenName: DRAIN_DEADLINE_INITIATOR, role: null, projectId: null, action: 'drain deadline: evacuate', target: `/v1/hosts/${host.id}`, source: 'controller', requestId: null, status: 202 }],
      em,
    );
    await this.hosts.recordDrainDeadlineReached(em, host.id, id, `drain deadline ${deadline} passed: evacuating ${moving} instance(s) (operation ${id}, by ${DRAIN_DEADLINE_INITIATOR})`);
    return { kind: 'evacuating', operationId: id, moving, skipped };
  }
}
