import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@hyperplane/config';
import { Database, HostRepository, InstanceEntity, InstanceRepository, isClaimRefused, OperationEntity, OperationRepository, Tx } from '@hyperplane/db';
import { AgentResultPayload, RetryLater } from '@hyperplane/queue';
import { PlacementPolicy, PlacementRequest } from '@hyperplane/scheduler';
import { HostAgents } from '../../hosts/host-agents';
import { PlacementService } from '../../placement/placement.service';
import { createArgs } from '../host-command';
import { HostCommandSender } from '../host-command.sender';
import { hostError, OperationOutcomes } from '../operation-outcomes';
import { CreateRetry, failedCreates } from './create-retry';
import { InstanceOperationHandler } from './instance-operation.handler';

const CLAIM_ATTEMPTS = 8;
/** How often a create that waits for enrolling hosts looks again. */
const ENROLLING_RETRY_MS = 1000;
export const WAITING_FOR_ENROLLING_HOSTS = 'waiting for a host that is still enrolling';

class LostClaim extends Error {}
class Cancelled extends Error {}

/**
 * Places a new instance (claiming capacity in PostgreSQL) and sends its create to the chosen
 * host, in one transaction from queued to dispatched. A create that fails on its host is
 * cleaned up there and tried on another (CreateRetry). Safe to run twice for the same operation.
 */
@Injectable()
export class CreateHandler extends InstanceOperationHandler {
  // `recover` (HA) is placed and created the same way: RecoverHandler extends this class.
  override readonly kind: 'create' | 'recover' = 'create';
  // A create starts in the same transaction that places it.
  override readonly beginsItself = true;
  private readonly log = new Logger('operations');

  constructor(
    outcomes: OperationOutcomes,
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly hosts: HostRepository,
    private readonly placement: PlacementService,
    private readonly commands: HostCommandSender,
    private readonly hostAgents: HostAgents,
    private readonly retry: CreateRetry,
    private readonly config: AppConfig,
  ) {
    super(outcomes);
  }

  protected async plan(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    const from = ['pending', 'unschedulable', 'scheduling'] as const;
    if (op.status === 'queued' && !(from as readonly string[]).includes(instance.state)) {
      // A create places its instance and starts in one transaction, so a queued one whose
      // instance is no longer waiting to be placed did not place it: another operation did (a
      // rescheduler's create read the instance as unschedulable just before another create
      // placed it), or it went. Nothing is left to do. Sending the create anyway would leave this
      // operation queued for good: its host's result is applied only to a running operation.
      await this.overtaken(op, instance);
      return;
    }
    if (instance.state === 'provisioning' || instance.hostId) {
      // Placed by an earlier run of this operation whose command was lost before it was recorded: send it again.
      const template = await this.placement.template(instance.template);
      if (template) await this.commands.send(op, instance, 'create', createArgs(instance, template), { step: null });
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
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
      const decision = await this.placement.decide(request, policy);
      if (!decision.ok) {
        await this.waitForEnrollingHosts(op, request, policy);
        try {
          await this.db.transaction(async (em) => {
            if (!(await this.begin(em, op))) return;
            const scheduling = await this.instances.transition(em, instance.id, from, 'scheduling');
            const moved =
              scheduling &&
              (await this.instances.transition(em, instance.id, ['scheduling'], 'unschedulable', {
                stateReason: decision.reason,
                placementExplanation: decision.explanation as unknown as Record<string, unknown>,
              }));
            // Placed (or gone) meanwhile: not begun either; the next run finds it overtaken.
            if (!moved) throw new LostClaim();
            await this.operations.transition(em, op.id, ['running'], 'failed', {
              step: 'unschedulable',
              error: { code: 'unschedulable', message: decision.reason },
              result: { explanation: decision.explanation },
            });
          });
        } catch (error) {
          if (!(error instanceof LostClaim)) throw error;
          const now = await this.instances.get(instance.id);
          if (op.status === 'queued' && now && !(from as readonly string[]).includes(now.state)) await this.overtaken(op, now);
        }
        return;
      }
      try {
        // Learnt before the transaction (a host removed meanwhile fails here, not inside it).
        await this.hostAgents.agentOf(decision.hostId);
        // One transaction from queued to dispatched; the capacity claim goes with its COMMIT, so
        // the host's row stays locked for as short a time as possible.
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
          await this.commands.send(op, moved, 'create', createArgs(moved, template), { em, step: `provisioning on ${decision.hostName}` });
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
        if (!(error instanceof LostClaim) && !isClaimRefused(error)) throw error;
        const now = await this.instances.get(instance.id);
        if (!now || !(from as readonly string[]).includes(now.state)) {
          if (now && op.status === 'queued') await this.overtaken(op, now);
          return;
        }
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

  /**
   * Ends a queued create whose instance another operation placed (or removed) meanwhile. Only
   * from queued: a second run of this same operation that placed it has moved it to running.
   */
  private async overtaken(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    const message = `instance ${instance.id} is no longer waiting to be placed (it is ${instance.state}${instance.hostId ? ` on host ${instance.hostId}` : ''}): another operation placed or removed it meanwhile`;
    const ended = await this.db.transaction((em) => this.operations.transition(em, op.id, ['queued'], 'failed', { step: 'overtaken', error: { code: 'invalid-state', message } }));
    if (ended) this.log.warn(`operation ${op.id} (${op.kind}): ${message}`);
  }

  /** Moves a queued operation to running in the caller's transaction; false if it was cancelled. */
  private async begin(em: Tx, op: OperationEntity): Promise<boolean> {
    if (op.status !== 'queued') return true;
    return (await this.operations.transition(em, op.id, ['queued'], 'running', { step: 'placing', progress: 1 })) !== null;
  }

  override async onCancel(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.endFromOutside(em, op, instance, 'cancelled', { code: 'cancelled', message: 'the create was cancelled' });
  }

  override async onTimeout(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.endFromOutside(em, op, instance, 'failed', { code: 'timeout', message: 'the create did not finish in time' });
  }

  /**
   * Not placed yet: the instance never existed anywhere and goes (as a queued create's cancel
   * does). Placed: its host may have made part of it, so it stays there in `error`, keeping its
   * host and claim until a delete succeeds (as after a failed create).
   */
  private async endFromOutside(em: Tx, op: OperationEntity, instance: InstanceEntity | null, to: 'cancelled' | 'failed', error: { code: string; message: string }): Promise<void> {
    if (!(await this.outcomes.endedFromOutside(em, op, null, to, error)) || !instance) return;
    const gone = await this.instances.transition(em, instance.id, ['pending', 'scheduling', 'unschedulable'], 'deleted', { desiredState: 'deleted', deletedAt: new Date(), stateReason: error.message });
    if (!gone) await this.instances.transition(em, instance.id, ['provisioning'], 'error', { stateReason: `${error.message} while its host was making it; delete it to free its host` });
  }

  async onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    if (r.command === 'destroy') {
      // The clean-up after a failed create: place the instance again, elsewhere.
      await this.retry.placeAgain(em, op, instance);
      return;
    }
    await this.instances.transition(em, instance.id, ['provisioning'], r.state ?? 'stopped', { stateReason: null });
    if (instance.hostId) await this.hosts.clearCreateFailures(em, [instance.hostId]);
    const failed = failedCreates(op);
    const details = r.details ? { details: r.details } : null;
    await this.outcomes.succeeded(em, op, instance, failed.length > 0 ? { ...details, failedCreates: failed } : details);
  }

  async onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const error = hostError(r);
    if (r.command === 'destroy') {
      // The clean-up after a failed create; nothing left to remove is a clean-up done.
      if (error.code === 'NotFound') await this.retry.placeAgain(em, op, instance);
      else await this.retry.cleanUpFailed(em, op, instance, error);
      return;
    }
    if (instance.hostId) await this.hosts.noteCreateFailure(em, instance.hostId);
    if (await this.retry.cleanUp(em, op, instance, error)) return;
    // The instance may be half made on its host; it keeps its host and claim until a delete succeeds.
    const reason = `${r.command} failed on the host: ${error.message}`;
    await this.instances.transition(em, instance.id, [instance.state], 'error', { stateReason: reason });
    await this.outcomes.failedOnHost(em, op, error, reason);
  }
}
