import { Injectable } from '@nestjs/common';
import { InstanceEntity, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { BatchDeleter } from '../batch.deleter';
import { OperationHandler } from '../operation-handler';
import { OperationOutcomes } from '../operation-outcomes';

/**
 * A batch delete's parent: its children's destroys are sent in bulk (BatchDeleter) and each
 * runs as a delete of its own; BatchWatcher ends the parent when its last child ends. It sends
 * no host command. Cancelling it stops no child: each child is an operation that can be cancelled.
 */
@Injectable()
export class BatchDeleteHandler implements OperationHandler {
  readonly kind = 'batch-delete' as const;
  readonly beginsItself = false;

  constructor(
    private readonly deleter: BatchDeleter,
    private readonly outcomes: OperationOutcomes,
  ) {}

  async dispatch(op: OperationEntity): Promise<void> {
    await this.deleter.run(op);
  }

  onResult(_em: Tx, op: OperationEntity, _instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    throw new Error(`batch delete ${op.id} sent no host command, yet a ${r.command} result came for it`);
  }

  onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    return this.onResult(em, op, instance, r);
  }

  async onTimeout(em: Tx, op: OperationEntity): Promise<void> {
    await this.outcomes.endedFromOutside(em, op, null, 'failed', { code: 'timeout', message: 'the batch delete did not finish in time' });
  }

  async onCancel(em: Tx, op: OperationEntity): Promise<void> {
    await this.outcomes.endedFromOutside(em, op, null, 'cancelled', { code: 'cancelled', message: 'the batch delete was cancelled' });
  }
}
