import { Injectable } from '@nestjs/common';
import { OperationEntity } from '@hyperplane/db';
import { BatchDeleter } from '../batch.deleter';
import { OperationOutcomes } from '../operation-outcomes';
import { BatchParentHandler } from './batch-parent.handler';

/**
 * A batch delete's parent: its children's destroys are sent in bulk (BatchDeleter) and each
 * runs as a delete of its own; BatchWatcher ends the parent when its last child ends.
 */
@Injectable()
export class BatchDeleteHandler extends BatchParentHandler {
  readonly kind = 'batch-delete' as const;
  protected readonly noun = 'batch delete';

  constructor(
    private readonly deleter: BatchDeleter,
    outcomes: OperationOutcomes,
  ) {
    super(outcomes);
  }

  async dispatch(op: OperationEntity): Promise<void> {
    await this.deleter.run(op);
  }
}
