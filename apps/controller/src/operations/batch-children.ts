import { OperationEntity, OperationRepository, OutboxRepository, Tx } from '@hyperplane/db';
import { JobName, QueueName, runJobId } from '@hyperplane/queue';

/**
 * Children of a batch that take the single path after all (a create in a placement group, a
 * delete with nothing on a host to remove): each gets its own control job, sent when the chunk's
 * transaction commits, and runs through its kind's handler like any operation.
 */
export async function runAlone(em: Tx, outbox: OutboxRepository, operations: OperationRepository, children: Pick<OperationEntity, 'id'>[]): Promise<void> {
  if (children.length === 0) return;
  await outbox.add(em, children.map((o) => ({ queue: QueueName.Control, jobName: JobName.RunOperation, jobId: runJobId(o.id), payload: { operationId: o.id } })));
  await operations.patchJobs(em, children.map((o) => o.id), children.map((o) => runJobId(o.id)));
}
