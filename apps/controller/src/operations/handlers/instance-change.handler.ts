import { InstanceChange, InstanceState } from '@hyperplane/domain';
import { InstanceEntity, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { OperationOutcomes } from '../operation-outcomes';
import { InstanceOperationHandler } from './instance-operation.handler';

export const SETTLED: readonly InstanceState[] = ['running', 'stopped', 'suspended'];

/**
 * snapshot, restore, snapshot-delete, clone, resize: the instance must be placed and settled
 * (in one of `from`); then the kind sends its command (`send`).
 */
export abstract class InstanceChangeHandler extends InstanceOperationHandler {
  abstract override readonly kind: InstanceChange;
  protected readonly from: readonly InstanceState[] = SETTLED;

  constructor(outcomes: OperationOutcomes) {
    super(outcomes);
  }

  protected abstract send(op: OperationEntity, instance: InstanceEntity): Promise<void>;

  protected async plan(op: OperationEntity, instance: InstanceEntity): Promise<void> {
    if (!instance.hostId || !instance.driver) {
      await this.outcomes.fail(op, { code: 'not-placed', message: 'the instance has no host' });
      return;
    }
    if (!this.from.includes(instance.state)) {
      await this.outcomes.fail(op, { code: 'invalid-state', message: `instance is ${instance.state}; ${this.kind} needs ${this.from.join(' or ')}` });
      return;
    }
    await this.send(op, instance);
  }

  async onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    await this.outcomes.changeFailed(em, op, instance, r);
  }
}
