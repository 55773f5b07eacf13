import { InstanceEntity, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { HandledKind, OperationHandler } from '../operation-handler';
import { OperationOutcomes } from '../operation-outcomes';

/**
 * What every handler of an operation on one instance shares: the instance must exist, and an
 * operation ended from outside (cancelled, timed out) leaves the instance as it is, no longer
 * wanting the change. A kind that must undo something on those paths overrides them.
 */
export abstract class InstanceOperationHandler implements OperationHandler {
  abstract readonly kind: HandledKind;
  readonly beginsItself: boolean = false;

  constructor(protected readonly outcomes: OperationOutcomes) {}

  async dispatch(op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    if (!instance) return this.outcomes.fail(op, { code: 'not-found', message: 'the instance no longer exists' });
    return this.plan(op, instance);
  }

  /** Checks, claims and sends the operation's command (dispatch, with its instance). */
  protected abstract plan(op: OperationEntity, instance: InstanceEntity): Promise<void>;

  abstract onResult(em: Tx, op: OperationEntity, instance: InstanceEntity, result: AgentResultPayload): Promise<void>;

  abstract onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, result: AgentResultPayload): Promise<void>;

  async onTimeout(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.outcomes.endedFromOutside(em, op, instance, 'failed', { code: 'timeout', message: `${op.kind} did not finish in time` });
  }

  async onCancel(em: Tx, op: OperationEntity, instance: InstanceEntity | null): Promise<void> {
    await this.outcomes.endedFromOutside(em, op, instance, 'cancelled', { code: 'cancelled', message: `${op.kind} was cancelled` });
  }
}
