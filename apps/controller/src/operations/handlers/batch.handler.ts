import { Injectable } from '@nestjs/common';
import { InstanceEntity, OperationEntity, Tx } from '@hyperplane/db';
import { AgentResultPayload } from '@hyperplane/queue';
import { BatchPlacer } from '../batch.placer';
import { OperationHandler } from '../operation-handler';
import { OperationOutcomes } from '../operation-outcomes';

/**
 * A batch's parent: its children are placed in bulk (BatchPlacer) and each runs as a create of
 * its own; BatchWatcher ends the parent when its last child ends. It sends no host command.
 */
@Injectable()
export class BatchHandler implements OperationHandler {
  readonly kind = 'batch' as const;
  readonly beginsItself = false;

  constructor(
    private readonly batch: BatchPlacer,
    private readonly outcomes: OperationOutcomes,
  ) {}

  async dispatch(op: OperationEntity): Promise<void> {
    await this.batch.run(op);
  }

  onResult(_em: Tx, op: OperationEntity, _instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    throw new Error(`batch ${op.id} sent no host command, yet a ${r.command} result came for it`);
  }

  onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    return this.onResult(em, op, instance, r);
  }

  async onTimeout(em: Tx, op: OperationEntity): Promise<void> {
    await this.outcomes.endedFromOutside(em, op, null, 'failed', { code: 'timeout', message: 'the batch did not finish in time' });
  }

  async onCancel(em: Tx, op: OperationEntity): Promise<void> {
    await this.outcomes.endedFromOutside(em, op, null, 'cancelled', { code: 'cancelled', message: 'the batch was cancelled' });
  }
}
