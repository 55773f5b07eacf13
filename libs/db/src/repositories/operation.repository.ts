import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { OperationKind, OperationStatus } from '@hyperplane/domain';
import { EntityManager } from 'typeorm';
import { Database, fromRow } from '../database';
import { OperationEntity } from '../entities';
import { setClause } from '../sql';
import { EventRepository } from './event.repository';

export interface OperationFilter {
  projectIds: string[] | null;
  status?: OperationStatus;
  kind?: OperationKind | 'batch';
  instanceId?: string;
  parentId?: string;
  before?: { createdAt: string; id: string };
  limit: number;
}

export type OperationPatch = Partial<Omit<OperationEntity, 'id' | 'version' | 'project' | 'instance' | 'parent'>>;

export class OperationRepository {
  constructor(
    private readonly db: Database,
    private readonly events: EventRepository,
  ) {}

  async insert(em: EntityManager, rows: Partial<OperationEntity>[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 1000) {
      await em.createQueryBuilder().insert().into(OperationEntity).values(rows.slice(i, i + 1000) as QueryDeepPartialEntity<OperationEntity>[]).execute();
    }
    await this.events.append(
      em,
      rows.map((r) => ({
        type: 'operation.status',
        subjectType: 'operation',
        subjectId: r.id!,
        projectId: r.projectId!,
        data: { kind: r.kind, instanceId: r.instanceId ?? null, from: null, status: r.status, progress: 0 },
      })),
    );
  }

  get(id: string, em: EntityManager = this.db.manager): Promise<OperationEntity | null> {
    return em.findOneBy(OperationEntity, { id });
  }

  async getLocked(em: EntityManager, id: string): Promise<OperationEntity | null> {
    return em.createQueryBuilder(OperationEntity, 'o').setLock('pessimistic_write').where('o.id = :id', { id }).getOne();
  }

  findByIdempotencyKey(scope: string, key: string): Promise<OperationEntity | null> {
    return this.db.manager.findOneBy(OperationEntity, { idempotencyScope: scope, idempotencyKey: key });
  }

  activeForInstance(instanceId: string, em: EntityManager = this.db.manager): Promise<OperationEntity | null> {
    return em
      .createQueryBuilder(OperationEntity, 'o')
      .where(`o.instance_id = :instanceId AND o.status IN ('queued', 'running')`, { instanceId })
      .getOne();
  }

  async list(filter: OperationFilter): Promise<OperationEntity[]> {
    const qb = this.db.manager
      .createQueryBuilder(OperationEntity, 'o')
      .orderBy('o.created_at', 'DESC')
      .addOrderBy('o.id', 'DESC')
      .limit(filter.limit);
    if (filter.projectIds) qb.andWhere('o.project_id = ANY(:projectIds)', { projectIds: filter.projectIds });
    if (filter.status) qb.andWhere('o.status = :status', { status: filter.status });
    if (filter.kind) qb.andWhere('o.kind = :kind', { kind: filter.kind });
    if (filter.instanceId) qb.andWhere('o.instance_id = :instanceId', { instanceId: filter.instanceId });
    if (filter.parentId) qb.andWhere('o.parent_id = :parentId', { parentId: filter.parentId });
    // The cursor's timestamp has milliseconds; the row's own has microseconds: use the row's.
    if (filter.before) {
      qb.andWhere(
        '(o.created_at, o.id) < (COALESCE((SELECT c.created_at FROM operations c WHERE c.id = :id::uuid), :createdAt::timestamptz), :id::uuid)',
        filter.before,
      );
    }
    return qb.getMany();
  }

  /**
   * The one way an operation changes status: guarded by the statuses it may come from, with
   * an event in the same transaction. Returns null when the guard fails.
   */
  async transition(em: EntityManager, id: string, from: readonly OperationStatus[], to: OperationStatus, patch: OperationPatch = {}): Promise<OperationEntity | null> {
    const terminal = to === 'succeeded' || to === 'failed' || to === 'cancelled';
    const full: OperationPatch = {
      ...patch,
      status: to,
      ...(to === 'running' && patch.startedAt === undefined ? { startedAt: new Date() } : {}),
      ...(terminal ? { finishedAt: new Date() } : {}),
      ...(to === 'succeeded' ? { progress: 100 } : {}),
    };
    const { sql, params } = setClause(full, 3);
    const result = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE operations o SET ${sql}, version = o.version + 1, updated_at = now()
       FROM (SELECT id, status AS previous_status FROM operations WHERE id = $1 FOR UPDATE) p
       WHERE o.id = p.id AND o.status = ANY($2::text[])
       RETURNING o.*, p.previous_status`,
      [id, from, ...params],
    );
    const row = result[0][0];
    if (!row) return null;
    const op = fromRow<OperationEntity & { previousStatus: OperationStatus }>(row);
    await this.events.append(em, [
      {
        type: 'operation.status',
        subjectType: 'operation',
        subjectId: id,
        projectId: op.projectId,
        data: { kind: op.kind, instanceId: op.instanceId, from: op.previousStatus, status: to, progress: op.progress, step: op.step, error: op.error },
      },
    ]);
    return op;
  }

  /** Changes fields of a running operation (step, job pointer) without a status change. */
  async patch(em: EntityManager, id: string, patch: OperationPatch): Promise<void> {
    const { sql, params } = setClause(patch, 2);
    if (!sql) return;
    await em.query(`UPDATE operations SET ${sql}, version = version + 1, updated_at = now() WHERE id = $1`, [id, ...params]);
  }

  /** Progress only moves forward, and only while running. */
  async progress(id: string, percent: number, step: string): Promise<void> {
    await this.db.manager.query(
      `UPDATE operations SET progress = GREATEST(progress, $2), step = $3, updated_at = now()
       WHERE id = $1 AND status = 'running'`,
      [id, Math.max(0, Math.min(99, Math.round(percent))), step.slice(0, 100)],
    );
  }

  /** Marks an operation as looked at, so it is not picked up again at once. */
  async touch(id: string): Promise<void> {
    await this.db.manager.query('UPDATE operations SET updated_at = now() WHERE id = $1', [id]);
  }

  /** Active operations not touched for a while: candidates for re-enqueueing. */
  async staleActive(olderThanMs: number, limit: number): Promise<OperationEntity[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT * FROM operations WHERE status IN ('queued', 'running') AND kind <> 'batch'
         AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
       ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => fromRow<OperationEntity>(r));
  }

  /** Every non-terminal operation, oldest first (rebuild at controller start). */
  async allActive(afterId: string | null, limit: number): Promise<OperationEntity[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT * FROM operations WHERE status IN ('queued', 'running') AND kind <> 'batch' AND ($1::uuid IS NULL OR id > $1::uuid)
       ORDER BY id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((r) => fromRow<OperationEntity>(r));
  }

  async childCounts(parentId: string, em: EntityManager = this.db.manager): Promise<Record<OperationStatus, number>> {
    const rows = await em.query<{ status: OperationStatus; n: number }[]>(
      'SELECT status, count(*)::int AS n FROM operations WHERE parent_id = $1 GROUP BY status',
      [parentId],
    );
    const counts: Record<OperationStatus, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const r of rows) counts[r.status] = r.n;
    return counts;
  }
}
