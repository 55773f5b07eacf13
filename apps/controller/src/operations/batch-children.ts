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

/** Rounds in a row that hand no child on before a batch's run gives up (its job is tried again). */
const MAX_IDLE_ROUNDS = 20;

/**
 * A batch's run: chunks taken (`take`) and handed on (`handle`, which says how many children left
 * `queued`) until none is left. Returns how many were handed on.
 */
export async function eachChunk<T>(parentId: string, take: () => Promise<T[]>, handle: (chunk: T[]) => Promise<number>): Promise<number> {
  let idle = 0;
  let total = 0;
  for (;;) {
    const chunk = await take();
    if (chunk.length === 0) return total;
    const moved = await handle(chunk);
    total += moved;
    idle = moved === 0 ? idle + 1 : 0;
    if (idle >= MAX_IDLE_ROUNDS) throw new Error(`batch ${parentId}: no progress in ${MAX_IDLE_ROUNDS} rounds; will retry`);
  }
}
