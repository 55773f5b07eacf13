import { Injectable } from '@nestjs/common';
import { DELETABLE_STATES } from '@hyperplane/domain';
import { Database, HostRepository, InstanceEntity, InstanceRepository, OperationEntity, OperationRepository, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { Rescheduler } from '../../placement/rescheduler';
import { HostCommandSender } from '../host-command.sender';
import { LostHostDelete } from '../lost-host-delete';
import { hostError, OperationOutcomes } from '../operation-outcomes';
import { InstanceOperationHandler } from './instance-operation.handler';

/** Removes an instance from its host (never placed: at once), then releases its claim. */
@Injectable()
export class DeleteHandler extends InstanceOperationHandler {
  override readonly kind = 'delete' as const;

  constructor(
    outcomes: OperationOutcomes,
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly hosts: HostRepository,
    private readonly commands: HostCommandSender,
    private readonly rescheduler: Rescheduler,
    private readonly lostHostDelete: LostHostDelete,
  ) {
    super(outcomes);
  }

  protected async plan(op: OperationEntity, instance: InstanceEntity): Promise<void> {
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
      // HA: ?force=true while its host is down: deleted here, the claim released (lost-host-delete.ts).
      if (await this.lostHostDelete.withoutHost(em, op, deleting)) return;
      // ?force=true: the agent stops it forcibly before destroying it.
      await this.commands.send(op, deleting, 'destroy', op.request.force === true ? { stop: { force: true } } : {}, { em });
    });
  }

  override async onCancel(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.endFromOutside(em, op, instance, 'cancelled', { code: 'cancelled', message: 'the delete was cancelled' });
  }

  override async onTimeout(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.endFromOutside(em, op, instance, 'failed', { code: 'timeout', message: 'the delete did not finish in time' });
  }

  /** Half removed, perhaps: the instance goes to `error` on its host (a delete can be asked again). */
  private async endFromOutside(em: Tx, op: OperationEntity, instance: InstanceEntity | null, to: 'cancelled' | 'failed', error: { code: string; message: string }): Promise<void> {
    if (!(await this.outcomes.endedFromOutside(em, op, null, to, error)) || !instance) return;
    await this.instances.transition(em, instance.id, ['deleting'], 'error', { stateReason: `${error.message} while its host was removing it` });
  }

  async onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const gone = await this.instances.transition(em, instance.id, ['deleting'], 'deleted', {
      hostId: null,
      claimVcpus: 0,
      claimMemoryMib: 0,
      claimDiskGib: 0,
      deletedAt: new Date(),
      stateReason: null,
    });
    if (gone && instance.hostId) {
      await this.hosts.release(em, instance.hostId, this.instances.claimOf(instance));
      this.rescheduler.kick(); // freed capacity
    }
    await this.outcomes.succeeded(em, op, instance, r.details ? { details: r.details } : null, { keepReason: true });
  }

  async onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const error = hostError(r);
    // Nothing left on the host is a delete done (drivers answer NotFound for a missing instance).
    if (error.code === 'NotFound') return this.onResult(em, op, instance, { ...r, ok: true, error: undefined });
    // The instance may be half removed on its host; it keeps its host and claim until a delete succeeds.
    const reason = `${r.command} failed on the host: ${error.message}`;
    await this.instances.transition(em, instance.id, [instance.state], 'error', { stateReason: reason });
    await this.outcomes.failedOnHost(em, op, error, reason);
  }
}
