import { Injectable } from '@nestjs/common';
import { Database, InstanceEntity, OperationEntity, OperationRepository, OutboxRepository, Tx } from '@hyperplane/db';
import { AgentResultPayload, JobName, QueueName, runJobId } from '@hyperplane/queue';
import { OperationHandler } from '../operation-handler';
import { OperationOutcomes } from '../operation-outcomes';

/**
 * An evacuation's parent (POST /v1/hosts/{id}/actions/evacuate): the API drained the host and
 * made one queued `migrate` child per instance on it; this runs them all (each placed, claimed
 * and moved by MigrateHandler) and BatchWatcher follows the children: progress is the share
 * that ended, and the parent ends succeeded when every child did, else failed (`partial`, the
 * counts in its result; a child that fits nowhere failed `unschedulable` with the reason).
 */
@Injectable()
export class EvacuateHandler implements OperationHandler {
  readonly kind = 'evacuate' as const;
  readonly beginsItself = false;

  constructor(
    private readonly db: Database,
    private readonly outbox: OutboxRepository,
    private readonly operations: OperationRepository,
    private readonly outcomes: OperationOutcomes,
  ) {}

  async dispatch(op: OperationEntity): Promise<void> {
    // Each child's run job, under its fixed id: a second dispatch enqueues nothing new.
    await this.db.transaction(async (em) => {
      const children = await em.query<{ id: string }[]>(`SELECT id FROM operations WHERE parent_id = $1 AND status = 'queued'`, [op.id]);
      if (children.length === 0) return;
      await this.outbox.add(
        em,
        children.map((c) => ({ queue: QueueName.Control, jobName: JobName.RunOperation, jobId: runJobId(c.id), payload: { operationId: c.id } })),
      );
    });
  }

  onResult(_em: Tx, op: OperationEntity, _instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    throw new Error(`evacuation ${op.id} sent no host command, yet a ${r.command} result came for it`);
  }

  onFailure(em: Tx, op: OperationEntity, instance: InstanceEntity, r: AgentResultPayload): Promise<void> {
    return this.onResult(em, op, instance, r);
  }

  /** The children still queued are cancelled; those moving finish or abort on their own. */
  async onTimeout(em: Tx, op: OperationEntity): Promise<void> {
    await this.endChildren(em, op, 'failed', { code: 'timeout', message: 'the evacuation did not finish in time' });
  }

  async onCancel(em: Tx, op: OperationEntity): Promise<void> {
    await this.endChildren(em, op, 'cancelled', { code: 'cancelled', message: 'the evacuation was cancelled' });
  }

  private async endChildren(em: Tx, op: OperationEntity, to: 'cancelled' | 'failed', error: { code: string; message: string }): Promise<void> {
    if (!(await this.outcomes.endedFromOutside(em, op, null, to, error))) return;
    const queued = await em.query<{ id: string }[]>(`SELECT id FROM operations WHERE parent_id = $1 AND status = 'queued'`, [op.id]);
    for (const c of queued) await this.operations.transition(em, c.id, ['queued'], 'cancelled', { step: 'cancelled', error });
  }
}
