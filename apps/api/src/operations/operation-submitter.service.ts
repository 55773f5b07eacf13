import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BatchKind, OperationKind } from '@hyperplane/domain';
import {
  Database,
  OperationEntity,
  OperationRepository,
  OutboxRepository,
  parseQuotaRefusal,
  PG_UNIQUE_VIOLATION,
  pgConstraint,
  pgDetail,
  pgErrorCode,
  ProjectRepository,
  SQLSTATE_QUOTA_EXCEEDED,
  Tx,
} from '@hyperplane/db';
import { currentRequestId } from '@hyperplane/observability';
import { JobName, QueueName, runJobId, RunOperationPayload } from '@hyperplane/queue';
import { Principal } from '../auth/principal';
import { IdempotencyContext } from '../common/idempotency';
import { Problem, problems } from '../common/problem';

export interface Submission {
  projectId: string;
  instanceId: string | null;
  kind: OperationKind | BatchKind;
  request: Record<string, unknown>;
  /** Writes that belong in the same transaction (the new instance, desired state, …). */
  before?: (em: Tx, operationId: string) => Promise<void>;
  /** Writes that need the operation to exist (a batch's children point at it). */
  after?: (em: Tx, operationId: string) => Promise<unknown>;
  /** Whether the operation is put on the control queue (default true). */
  enqueue?: boolean;
  /** The instance is made in `before` (a create): no operation can be active on it, none is looked for. */
  newInstance?: boolean;
}

export interface Submitted {
  operation: OperationEntity;
  /** True when an earlier request with the same Idempotency-Key is answered again. */
  replayed: boolean;
}

/**
 * Accepts a change: in one transaction, the caller's writes, the operation (queued) and an
 * outbox message that the controller relays to the control queue. Idempotency keys are
 * scoped to the token; one active operation per instance is enforced by the database.
 */
@Injectable()
export class OperationSubmitter {
  constructor(
    private readonly db: Database,
    private readonly operations: OperationRepository,
    private readonly outbox: OutboxRepository,
    private readonly projects: ProjectRepository,
  ) {}

  async submit(principal: Principal, idem: IdempotencyContext, s: Submission): Promise<Submitted> {
    const replay = await this.replay(principal, idem);
    if (replay) return replay;
    const id = randomUUID();
    const jobId = runJobId(id);
    const requestId = currentRequestId() ?? null;
    // The job carries the request id, so the controller's and the agent's logs name it too.
    const job: RunOperationPayload = requestId ? { operationId: id, requestId } : { operationId: id };
    let operation: OperationEntity;
    try {
      operation = await this.db.transaction(async (em) => {
        // Locks in the one order (operation, then instance): a cancel of the active operation
        // at the same moment is waited for, not deadlocked with; one still active refuses this.
        if (s.instanceId && !s.newInstance) {
          const active = await this.operations.lockActiveForInstance(em, s.instanceId);
          if (active) throw this.activeConflict(s.instanceId, active);
        }
        await s.before?.(em, id);
        const [stored] = await this.operations.insert(
          em,
          [
            {
            id,
            projectId: s.projectId,
            instanceId: s.instanceId,
            kind: s.kind,
            status: 'queued',
            progress: 0,
            step: 'queued',
            request: s.request,
            idempotencyKey: idem.key,
            idempotencyScope: idem.key ? principal.tokenId : null,
            requestHash: idem.key ? idem.fingerprint : null,
            requestedBy: principal.tokenId,
            requestId,
            ...(s.enqueue === false ? {} : { jobQueue: QueueName.Control, jobId, jobData: { ...job } }),
            },
          ],
          // As stored: the answer needs no second read after the commit.
          { returning: true },
        );
        await s.after?.(em, id);
        if (s.enqueue !== false) {
          await this.outbox.add(em, [{ queue: QueueName.Control, jobName: JobName.RunOperation, jobId, payload: { ...job } }]);
        }
        return stored!;
      });
    } catch (error) {
      if (pgErrorCode(error) === SQLSTATE_QUOTA_EXCEEDED) throw await this.quotaProblem(error, s.projectId);
      const raced = await this.explainConflict(error, principal, idem, s);
      if (raced) return raced;
      throw error;
    }
    return { operation, replayed: false };
  }

  /** The quota trigger's refusal, as a problem naming the resource, limit, usage and request. */
  private async quotaProblem(error: unknown, projectId: string): Promise<Problem> {
    const q = parseQuotaRefusal(pgDetail(error));
    const project = (await this.projects.get(projectId))?.name ?? projectId;
    if (!q) return problems.conflict(`project ${project} is over its quota`);
    return problems.quotaExceeded({ project, technology: q.technology, resource: q.resource, limit: q.limit, usage: q.usage, requested: q.requested });
  }

  /** The earlier answer to the same key and request, if any (409 for the same key with another request). */
  async replay(principal: Principal, idem: IdempotencyContext): Promise<Submitted | null> {
    if (!idem.key) return null;
    const earlier = await this.operations.findByIdempotencyKey(principal.tokenId, idem.key);
    if (!earlier) return null;
    if (earlier.requestHash !== idem.fingerprint) {
      throw problems.conflict(`Idempotency-Key ${JSON.stringify(idem.key)} was already used for a different request (operation ${earlier.id})`, {
        operationId: earlier.id,
      });
    }
    return { operation: earlier, replayed: true };
  }

  private activeConflict(instanceId: string | null, active: OperationEntity | null): Problem {
    return problems.conflict(
      active
        ? `instance ${instanceId} already has an active operation ${active.id} (${active.kind}, ${active.status}); wait for it or cancel it`
        : `instance ${instanceId} already has an active operation`,
      { operationId: active?.id ?? null },
    );
  }

  /**
   * Turns the database's refusals into 409s that say with what. Two requests with the same
   * key that raced: the loser answers with the winner's operation. Anything else: null.
   */
  private async explainConflict(error: unknown, principal: Principal, idem: IdempotencyContext, s: Submission): Promise<Submitted | null> {
    if (pgErrorCode(error) !== PG_UNIQUE_VIOLATION) return null;
    switch (pgConstraint(error)) {
      case 'operations_idempotency':
        return this.replay(principal, idem);
      case 'operations_one_active_per_instance': {
        // A batch's child names its instance in the index's detail.
        const instanceId = s.instanceId ?? /\(instance_id\)=\(([0-9a-f-]{36})\)/.exec(pgDetail(error) ?? '')?.[1] ?? null;
        const active = instanceId ? await this.operations.activeForInstance(instanceId) : null;
        throw this.activeConflict(instanceId, active);
      }
      case 'instances_project_name_live': {
        // Requests with one key that raced: the loser's instance name clashed with the winner's.
        const replayed = await this.replay(principal, idem);
        if (replayed) return replayed;
        const taken = /\(project_id, name\)=\([^,]+, ([^)]+)\)/.exec(pgDetail(error) ?? '')?.[1];
        const name = taken ?? (typeof s.request.name === 'string' ? s.request.name : '?');
        throw problems.conflict(`an instance named ${name} already exists in this project`, { field: s.kind === 'batch' ? 'namePrefix' : 'name', name });
      }
      case undefined:
      default:
        return null;
    }
  }
}
