import { BatchKind } from '@hyperplane/domain';
import { InstanceEntity, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { OperationHandler } from '../operation-handler';
import { OperationOutcomes } from '../operation-outcomes';

/**
 * What the parents of batches (a create or a delete each child) share: they send no host command
 * of their own (their children do), and BatchWatcher ends them when their last child ends. A
 * timeout or a cancel ends the parent alone; each child is an operation that can be cancelled.
 */
export abstract class BatchParentHandler implements OperationHandler {
  abstract readonly kind: BatchKind;
  readonly beginsItself = false;
  /** How the parent is named in errors ("batch", "batch delete"). */
  protected abstract readonly noun: string;

  constructor(protected readonly outcomes: OperationOutcomes) {}

  abstract dispatch(op: OperationEntity): Promise<void>;

  onResult(_em: Tx, op: OperationEntity, _instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    throw new Error(`${this.noun} ${op.id} sent no host command, yet a ${r.command} result came for it`);
  }

  onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    return this.onResult(em, op, instance, r);
  }

  async onTimeout(em: Tx, op: OperationEntity): Promise<void> {
    await this.outcomes.endedFromOutside(em, op, null, 'failed', { code: 'timeout', message: `the ${this.noun} did not finish in time` });
  }

  async onCancel(em: Tx, op: OperationEntity): Promise<void> {
    await this.outcomes.endedFromOutside(em, op, null, 'cancelled', { code: 'cancelled', message: `the ${this.noun} was cancelled` });
  }
}
