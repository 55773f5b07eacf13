import { Injectable } from '@nestjs/common';
import { OperationEntity } from '@hyperplane/db';
import { BatchPlacer } from '../batch.placer';
import { OperationOutcomes } from '../operation-outcomes';
import { BatchParentHandler } from './batch-parent.handler';

/**
 * A batch's parent: its children are placed in bulk (BatchPlacer) and each runs as a create of
 * its own; BatchWatcher ends the parent when its last child ends. It sends no host command.
 */
@Injectable()
export class BatchHandler extends BatchParentHandler {
  readonly kind = 'batch' as const;
  protected readonly noun = 'batch';

  constructor(
    private readonly batch: BatchPlacer,
    outcomes: OperationOutcomes,
  ) {
    super(outcomes);
  }

  async dispatch(op: OperationEntity): Promise<void> {
    await this.batch.run(op);
  }
}
