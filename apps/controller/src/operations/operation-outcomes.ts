import { Injectable, Logger } from '@nestjs/common';
import { Database, InstanceEntity, InstanceRepository, OperationEntity, OperationError, OperationRepository, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';

/** The reason a host gave, or the one we give when it gave none. */
export function hostError(r: AgentResultPayload): OperationError {
  return r.error ?? { code: 'Fatal', message: 'the agent reported a failure without a reason' };
}

/** How operations end, shared by the handlers: each a guarded transition, so a second ending changes nothing. */
@Injectable()
export class OperationOutcomes {
  private readonly log = new Logger('operations');

  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
  ) {}

  /** Ends the operation failed before its host got it; the instance goes to `instanceState` or keeps its state. */
  async fail(op: OperationEntity, error: OperationError, instance?: InstanceEntity, instanceState?: 'error'): Promise<void> {
    await this.db.transaction(async (em) => {
      await this.operations.transition(em, op.id, ['queued', 'running'], 'failed', { step: 'failed', error });
      if (instance && instanceState) await this.instances.transition(em, instance.id, [instance.state], instanceState, { stateReason: error.message });
      else if (instance) await this.instances.patch(em, instance.id, { desiredState: instance.state });
    });
    this.log.warn(`operation ${op.id} (${op.kind}) failed: ${error.message}`);
  }

  /** The host did what was asked: a reason left by an earlier failure no longer holds, and the operation succeeds. */
  async succeeded(em: Tx, op: OperationEntity, instance: InstanceEntity, result: Record<string, unknown> | null, options: { keepReason?: boolean } = {}): Promise<void> {
    if (instance.stateReason && !options.keepReason) await this.instances.clearReason(em, instance.id);
    await this.operations.transition(em, op.id, ['running'], 'succeeded', { step: 'done', result });
  }

  /** The running operation ends failed with the host's error. */
  async failedOnHost(em: Tx, op: OperationEntity, error: OperationError, reason: string): Promise<void> {
    await this.operations.transition(em, op.id, ['running'], 'failed', { step: 'failed', error: { code: error.code, message: error.message } });
    this.log.warn(`operation ${op.id}: ${reason}`);
  }

  /**
   * A command that changes an instance in place failed on its host: the instance is missing
   * there (→ error), or it stays as it was, wanting what it has (its reason says what failed).
   */
  async changeFailed(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    const error = hostError(r);
    const reason = `${r.command} failed on the host: ${error.message}`;
    if (error.code === 'NotFound') await this.instances.transition(em, instance.id, [instance.state], 'error', { stateReason: 'the instance is missing on its host' });
    else await this.instances.patch(em, instance.id, { desiredState: instance.state, stateReason: reason });
    await this.failedOnHost(em, op, error, reason);
  }

  /**
   * A running operation ended from outside (cancelled, or past its deadline): the instance keeps
   * the state it is in and stops wanting the change; a late result finds the guard closed.
   */
  async endedFromOutside(em: Tx, op: OperationEntity, instance: InstanceEntity | null, to: 'cancelled' | 'failed', error: OperationError): Promise<boolean> {
    const ended = await this.operations.transition(em, op.id, ['queued', 'running'], to, { step: to === 'cancelled' ? 'cancelled' : 'timed out', error });
    if (ended && instance) await this.instances.patch(em, instance.id, { desiredState: instance.state, stateReason: error.message });
    return ended !== null;
  }
}
