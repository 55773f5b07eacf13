import { Injectable, Logger } from '@nestjs/common';
import { ACTION_RULES, DELETABLE_STATES, InstanceAction, TERMINAL_OPERATION_STATUSES } from '@hyperplane/domain';
import { Database, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository, OutboxRepository, Tx } from '@hyperplane/db';
import { AppConfig } from '@hyperplane/config';
import { isHostQueue, JobQueue, RetryLater } from '@hyperplane/queue';
import { PlacementPolicy, PlacementRequest } from '@hyperplane/scheduler';
import { PlacementService } from '../placement/placement.service';
import { BatchPlacer } from './batch.placer';
import { ChangeRunner } from './change.runner';
import { OperationOutcomes } from './operation-outcomes';
import { createArgs, hostCommand, isBatchJobId, resendHostJob } from './host-command';
import { failedCreates } from '../results/create-retry';
import { HostAgents } from '../hosts/host-agents';
import { LostHostDelete } from '../ha/lost-host-delete';

const CLAIM_ATTEMPTS = 8;
/** How often a create that waits for enrolling hosts looks again. */
const ENROLLING_RETRY_MS = 1000;
export const WAITING_FOR_ENROLLING_HOSTS = 'waiting for a host that is still enrolling';

const ACTIONS: readonly string[] = ['start', 'stop', 'restart', 'suspend', 'resume'];
function isAction(kind: string): kind is InstanceAction {
  return ACTIONS.includes(kind);
}

/** A stop's options as the request gave them; graceful with 30 s when it gave none (as before). */
export function stopOptions(request: Record<string, unknown>): { force?: boolean; timeoutS?: number } {
  if (request.force === true) return { force: true };
  return { timeoutS: typeof request.timeoutS === 'number' ? request.timeoutS : 30 };
}

class LostClaim extends Error {}
class Cancelled extends Error {}

/**
 * Runs an operation up to the point where a host takes over: places new instances (claiming
 * capacity in PostgreSQL), checks actions against the instance's state, and sends the driver
 * command to the host's queue through the outbox. Safe to run twice for the same operation.
 */
@Injectable()
export class OperationRunner {
  private readonly log = new Logger('operations');

  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly outbox: OutboxRepository,
    private readonly placement: PlacementService,
    private readonly queue: JobQueue,
    private readonly batch: BatchPlacer,
    private readonly outcomes: OperationOutcomes,
    private readonly changes: ChangeRunner,
    private readonly config: AppConfig,
    private readonly hostAgents: HostAgents,
    private readonly lostHostDelete: LostHostDelete,
  ) {}

  async run(operationId: string): Promise<void> {
    let op = await this.operations.get(operationId);
    if (!op || TERMINAL_OPERATION_STATUSES.includes(op.status)) return;
    if (op.status === 'queued' && isAction(op.kind)) {
      // An action's start and its command commit together: one transaction, not two, on the
      // path of every suspend/resume/start/stop.
      const instance = op.instanceId ? await this.instances.get(op.instanceId) : null;
      if (instance) return this.act(op, instance, op.kind, true);
    }
    // HA (apps/controller/src/ha): a `recover` is placed like a create.
    if (op.status === 'queued' && op.kind !== 'create' && op.kind !== 'recover') {
      // A create starts in the same transaction that places it.
      op = await this.db.transaction((em) => this.operations.transition(em, operationId, ['queued'], 'running', { step: 'starting', progress: 1 }));
      if (!op) return; // cancelled in the meantime
    } else if (op.jobQueue && isHostQueue(op.jobQueue) && op.jobId) {
      // Already handed to a host; this is a replay. Re-send the same job (a no-op if it
      // exists); a command batch cannot be re-sent from one operation: the reconciler checks it.
      if (!isBatchJobId(op.jobId) && op.jobData) await this.queue.enqueue(resendHostJob(op));
      return;
    }
    if (op.kind === 'batch') {
      await this.batch.run(op);
      return;
    }
    const instance = op.instanceId ? await this.instances.get(op.instanceId) : null;
    if (!instance) {
      await this.outcomes.fail(op, { code: 'not-found', message: 'the instance no longer exists' });
      return;
    }
    switch (op.kind) {
      case 'create':
      case 'recover': // HA: an instance of a lost host placed and created again, keeping its identity (apps/controller/src/ha)
        return this.create(op, instance);
      case 'delete':
        return this.remove(op, instance);
      case 'start':
      case 'stop':
      case 'restart':
      case 'suspend':
      case 'resume':
        return this.act(op, instance, op.kind);
      case 'snapshot':
      case 'restore':
      case 'snapshot-delete':
      case 'clone':
      case 'resize':
        return this.changes.run(op, instance, op.kind);
    }
  }

  private async create(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    if (instance.state === 'provisioning' || instance.hostId) {
      // Placed by an earlier run whose command was lost before it was recorded: send it again.
      await this.dispatchCreate(op, instance);
      return;
    }
    const template = await this.placement.template(instance.template);
    if (!template) {
      await this.outcomes.fail(op, { code: 'template-gone', message: `template ${instance.template} no longer exists` }, instance, 'error');
      return;
    }
    const failed = failedCreates(op);
    // This controller's view learns of the failure at once (others at their next reload).
    if (failed.length > 0) await this.placement.refreshHost(failed.at(-1)!.hostId);
    const request = { ...(await this.placement.requestFor(instance, template)), ...(failed.length > 0 ? { excludeHosts: failed.map((f) => f.hostId) } : {}) };
    const policy = await this.placement.policyFor(instance.projectId);
    const from = ['pending', 'unschedulable', 'scheduling'] as const;
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
      const decision = await this.placement.decide(request, policy);
      if (!decision.ok) {
        await this.waitForEnrollingHosts(op, request, policy);
        await this.db.transaction(async (em) => {
          if (!(await this.begin(em, op))) return;
          await this.instances.transition(em, instance.id, from, 'scheduling');
          const moved = await this.instances.transition(em, instance.id, ['scheduling'], 'unschedulable', {
            stateReason: decision.reason,
            placementExplanation: decision.explanation as unknown as Record<string, unknown>,
          });
          if (!moved) return;
          await this.operations.transition(em, op.id, ['running'], 'failed', {
            step: 'unschedulable',
            error: { code: 'unschedulable', message: decision.reason },
            result: { explanation: decision.explanation },
          });
        });
        return;
      }
      try {
        const agentId = await this.hostAgents.agentOf(decision.hostId);
        // One transaction from queued to dispatched; the capacity claim goes last, so the
        // host's row stays locked for as short a time as possible.
        const placed = await this.db.transaction(async (em) => {
          // A group's lock is taken first, before any other: members placed at once queue here.
          if (decision.groupId) await this.placement.lockGroup(em, decision.groupId);
          if (!(await this.begin(em, op))) throw new Cancelled();
          await this.instances.transition(em, instance.id, from, 'scheduling');
          const moved = await this.instances.transition(em, instance.id, ['scheduling'], 'provisioning', {
            hostId: decision.hostId,
            driver: decision.driver,
            technology: decision.technology,
            arch: decision.arch,
            claimVcpus: decision.claim.vcpus,
            claimMemoryMib: decision.claim.memoryMiB,
            claimDiskGib: decision.claim.diskGiB,
            stateReason: null,
            placementExplanation: decision.explanation as unknown as Record<string, unknown>,
          });
          if (!moved) throw new LostClaim(); // deleted or moved meanwhile: roll the claim back
          const { message, patch } = hostCommand(op.id, moved, agentId, 'create', createArgs(moved, template));
          await this.operations.patch(em, op.id, { ...patch, step: `provisioning on ${decision.hostName}`, progress: 10 });
          await this.outbox.add(em, [message]);
          if (!(await this.placement.claim(em, decision, policy, instance.id))) throw new LostClaim();
          return moved;
        });
        this.placement.settle([decision]);
        this.log.debug(`instance ${placed.name} placed on ${decision.hostName} (${decision.technology}/${decision.driver})`);
        return;
      } catch (error) {
        this.placement.settle([decision]);
        await this.placement.refreshHost(decision.hostId);
        if (error instanceof Cancelled) return;
        if (!(error instanceof LostClaim)) throw error;
        const now = await this.instances.get(instance.id);
        if (!now || !(from as readonly string[]).includes(now.state)) return;
      }
    }
    throw new Error(`could not claim capacity for instance ${instance.id} after ${CLAIM_ATTEMPTS} attempts; will retry`);
  }

  /**
   * No host takes the request now. A host that enrolled lately becomes `ready` at its first
   * heartbeat (seconds later, as at the first start of `npm start`): when such a host would
   * take it, the create waits (still queued, step WAITING_FOR_ENROLLING_HOSTS, the job run
   * again every second) rather than fail. Both the hosts counted and the wait are bounded by the
   * heartbeat timeout, after which a silent host is not coming soon: the create then ends
   * `unschedulable` as before, and the rescheduler retries it when a host becomes ready.
   */
  private async waitForEnrollingHosts(op: OperationEntity, request: PlacementRequest, policy: PlacementPolicy): Promise<void> {
    const boundMs = this.config.HYPERPLANE_HEARTBEAT_TIMEOUT_S * 1000;
    const now = Date.now();
    if (now - new Date(op.createdAt).getTime() > boundMs) return;
    if (!(await this.placement.enrollingWouldPlace(request, policy, new Date(now - boundMs)))) return;
    // It stays queued (so it can still be cancelled) until placed; the step says why it waits.
    if (op.step !== WAITING_FOR_ENROLLING_HOSTS && !(await this.operations.markWaiting(op.id, WAITING_FOR_ENROLLING_HOSTS))) return;
    throw new RetryLater(ENROLLING_RETRY_MS, `operation ${op.id} waits for enrolling hosts`);
  }

  /** Moves a queued operation to running in the caller's transaction; false if it was cancelled. */
  private async begin(em: Tx, op: OperationEntity): Promise<boolean> {
    if (op.status !== 'queued') return true;
    return (await this.operations.transition(em, op.id, ['queued'], 'running', { step: 'placing', progress: 1 })) !== null;
  }

  private async dispatchCreate(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    const template = await this.placement.template(instance.template);
    if (!template) return;
    const { message, patch } = hostCommand(op.id, instance, await this.hostAgents.agentOf(instance.hostId!), 'create', createArgs(instance, template));
    await this.db.transaction(async (em) => {
      await this.operations.patch(em, op.id, patch);
      await this.outbox.add(em, [message]);
    });
  }

  private async act(op: OperationEntity, instance: InstanceEntity, action: InstanceAction, begin = false): Promise<void> {
    const rule = ACTION_RULES[action];
    if (!rule.from.includes(instance.state)) {
      await this.outcomes.fail(op, { code: 'invalid-state', message: `instance is ${instance.state}; ${action} needs ${rule.from.join(' or ')}` });
      return;
    }
    if (!instance.hostId || !instance.driver) {
      await this.outcomes.fail(op, { code: 'not-placed', message: 'the instance has no host' });
      return;
    }
    const extra = action === 'stop' ? { stop: stopOptions(op.request) } : {};
    if (!begin) return this.outcomes.dispatch(op, instance, action, extra);
    const { message, patch } = hostCommand(op.id, instance, await this.hostAgents.agentOf(instance.hostId), action, extra);
    await this.db.transaction(async (em) => {
      // Running and dispatched in one UPDATE (as dispatch() would patch it); cancelled in the
      // meantime: nothing to send.
      if (!(await this.operations.transition(em, op.id, ['queued'], 'running', { ...patch, step: action, progress: 10 }))) return;
      await this.outbox.add(em, [message]);
    });
  }

  private async remove(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    await this.db.transaction(async (em) => {
      const deleting = await this.instances.transition(em, instance.id, [...DELETABLE_STATES, 'deleting'], 'deleting');
      if (!deleting) {
        await this.operations.transition(em, op.id, ['running'], 'failed', { error: { code: 'invalid-state', message: `instance is ${instance.state}` } });
        return;
      }
      if (!deleting.hostId) {
        // Never placed: nothing to remove anywhere.
        await this.instances.transition(em, instance.id, ['deleting'], 'deleted', { deletedAt: new Date(), stateReason: null });
        await this.operations.transition(em, op.id, ['running'], 'succeeded', { step: 'deleted' });
        return;
      }
      // HA: ?force=true while its host is down: deleted here, the claim released (apps/controller/src/ha).
      if (await this.lostHostDelete.withoutHost(em, op, deleting)) return;
      // ?force=true: the agent stops it forcibly before destroying it.
      await this.outcomes.dispatch(op, deleting, 'destroy', op.request.force === true ? { stop: { force: true } } : {}, em);
    });
  }

}
