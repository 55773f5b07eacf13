import { Injectable } from '@nestjs/common';
import { TERMINAL_OPERATION_STATUSES } from '@hyperplane/domain';
import { Database, InstanceRepository, OperationEntity, OperationRepository, OutboxRepository } from '@hyperplane/db';
import { cancelJobId, CancelOperationPayload, JobName, QueueName } from '@hyperplane/queue';
import { canChange, canSeeProject, isFleetWide, Principal } from '../auth/principal';
import { decodeCursor, Page, toPage } from '../common/pagination';
import { problems } from '../common/problem';
import { OperationWaiters } from './operation-waiters';
import { ProjectScope } from '../projects/project-scope.service';
import { ListOperationsQuery } from './list-operations.query';
import { OperationDto } from './operation.dto';

@Injectable()
export class OperationService {
  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly instances: InstanceRepository,
    private readonly outbox: OutboxRepository,
    private readonly waiters: OperationWaiters,
    private readonly scope: ProjectScope,
  ) {}

  async get(principal: Principal, id: string): Promise<OperationDto> {
    return OperationDto.from(await this.visible(principal, id), isFleetWide(principal));
  }

  async list(principal: Principal, q: ListOperationsQuery & { project?: string }): Promise<Page<OperationDto>> {
    const limit = q.limit ?? 50;
    const rows = await this.operations.list({
      projectIds: await this.scope.forRead(principal, q.project),
      status: q.status,
      kind: q.kind,
      instanceId: q.instance,
      parentId: q.parent,
      before: decodeCursor(q.cursor),
      limit: limit + 1,
    });
    return toPage(rows, limit, (o) => OperationDto.from(o, isFleetWide(principal)));
  }

  /** Answers when the operation ends or `timeoutS` passes, whichever is first. */
  async wait(principal: Principal, id: string, timeoutS: number): Promise<OperationDto> {
    let op = await this.visible(principal, id);
    if (TERMINAL_OPERATION_STATUSES.includes(op.status) || timeoutS === 0) return OperationDto.from(op, isFleetWide(principal));
    await this.waiters.wait(id, timeoutS * 1000);
    op = (await this.operations.get(id))!;
    return OperationDto.from(op, isFleetWide(principal));
  }

  /**
   * Cancels an operation. Queued (or again: a no-op): at once, its instance left as it was
   * (`accepted: false`). Running: the controller ends it (its kind's onCancel, an abort to its
   * host), so the answer is the operation as it is now, `step: cancelling` (`accepted: true`).
   */
  async cancel(principal: Principal, id: string): Promise<{ op: OperationDto; accepted: boolean }> {
    const queued = await this.cancelQueued(principal, id);
    if (queued) return { op: queued, accepted: false };
    return { op: await this.cancelRunning(principal, id), accepted: true };
  }

  /** The cancel of a running operation goes to the controller (through the outbox, in the transaction that records it). */
  private async cancelRunning(principal: Principal, id: string): Promise<OperationDto> {
    const op = await this.db.transaction(async (em) => {
      const locked = await this.operations.getLocked(em, id);
      if (locked?.status !== 'running') return locked;
      const job: CancelOperationPayload = { operationId: id, by: principal.name };
      await this.outbox.add(em, [{ queue: QueueName.Control, jobName: JobName.CancelOperation, jobId: cancelJobId(id), payload: { ...job } }]);
      await this.operations.patch(em, id, { step: 'cancelling' });
      return { ...locked, step: 'cancelling' };
    });
    if (op?.status === 'running') return OperationDto.from(op, isFleetWide(principal));
    if (op?.status === 'cancelled') return OperationDto.from(op, isFleetWide(principal));
    throw problems.conflict(`operation ${id} is ${op?.status ?? 'gone'}; only a queued or running operation can be cancelled`, { operationStatus: op?.status ?? null });
  }

  /** A queued operation cancelled here and now (null when it is not queued). */
  private async cancelQueued(principal: Principal, id: string): Promise<OperationDto | null> {
    const op = await this.visible(principal, id);
    if (!canChange(principal, op.projectId)) throw problems.forbidden(`the token (${principal.role}) may not cancel operations`);
    const cancelled = await this.db.transaction(async (em) => {
      const done = await this.operations.transition(em, id, ['queued'], 'cancelled', {
        step: 'cancelled',
        error: { code: 'cancelled', message: `cancelled by ${principal.name}` },
      });
      if (!done || !done.instanceId) return done;
      const instance = await this.instances.get(done.instanceId, em);
      if (!instance) return done;
      if (done.kind === 'clone') {
        // The copy was never made: it goes, its source stays as it was.
        await this.instances.transition(em, String(done.request.cloneId), ['pending'], 'deleted', { desiredState: 'deleted', deletedAt: new Date(), stateReason: 'clone cancelled' });
        await this.instances.patch(em, instance.id, { desiredState: instance.state });
      } else if (done.kind === 'create') {
        // Nothing was placed yet: the instance never existed anywhere.
        await this.instances.transition(em, instance.id, ['pending'], 'deleted', { desiredState: 'deleted', deletedAt: new Date(), stateReason: 'creation cancelled' });
      } else if (done.kind === 'recover') {
        // HA: its host was lost and it was not placed again: nowhere now, until deleted.
        await this.instances.transition(em, instance.id, ['pending'], 'error', { stateReason: 'recovery from a lost host cancelled; delete it or create it again' });
      } else {
        await this.instances.patch(em, instance.id, { desiredState: instance.state });
      }
      return done;
    });
    if (!cancelled) {
      const now = await this.operations.get(id);
      // Cancelling twice is not an error: the caller gets what it asked for.
      if (now?.status === 'cancelled') return OperationDto.from(now, isFleetWide(principal));
      return null;
    }
    return OperationDto.from(cancelled, isFleetWide(principal));
  }

  private async visible(principal: Principal, id: string): Promise<OperationEntity> {
    const op = await this.operations.get(id);
    if (!op || !canSeeProject(principal, op.projectId)) throw problems.notFound('operation', id);
    return op;
  }
}
