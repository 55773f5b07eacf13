import { BatchKind, guardOperationFrom, OperationKind, OperationStatus } from '@hyperplane/domain';
import { EntityManager, In } from 'typeorm';
import { childCache, operationDuration, operationsTotal } from '@hyperplane/observability';
import { afterCommit, Database, fromRow } from '../database';
import { OperationEntity, OperationError } from '../entities';
import { bulkInsert, setClause } from '../sql';
import { EventRepository, NewEvent } from './event.repository';

export interface OperationFilter {
  projectIds: string[] | null;
  status?: OperationStatus;
  kind?: OperationKind | BatchKind;
  instanceId?: string;
  parentId?: string;
  before?: { createdAt: string; id: string };
  limit: number;
}

export type OperationPatch = Partial<Omit<OperationEntity, 'id' | 'version' | 'project' | 'instance' | 'parent'>>;

const finishedSeries = childCache((kind, outcome) => ({ count: operationsTotal.labels(kind, outcome), duration: operationDuration.labels(kind, outcome) }));

/** Counts operations that ended (by kind and outcome, with their time since accepted) once their transaction committed. */
function countFinished(em: EntityManager, ops: Pick<OperationEntity, 'kind' | 'status' | 'createdAt'>[]): void {
  if (ops.length === 0) return;
  afterCommit(em, () => {
    const now = Date.now();
    for (const o of ops) {
      const s = finishedSeries(o.kind, o.status);
      s.count.inc();
      if (o.createdAt) s.duration.observe(Math.max(0, now - new Date(o.createdAt).getTime()) / 1000);
    }
  });
}

/** A create that a batch made: it goes queued → running → succeeded without events of its own. */
function isBatchChild(o: Pick<OperationEntity, 'parentId' | 'kind'>): boolean {
  return o.parentId !== null && o.parentId !== undefined && (o.kind === 'create' || o.kind === 'delete');
}

export class OperationRepository {
  constructor(
    private readonly db: Database,
    private readonly events: EventRepository,
  ) {}

  /**
   * Inserts operations, each with its first event; `returning`: gives them back as stored (else
   * []). `events: false`: a batch's children, which emit no `operation.status` of their own while
   * they go as planned (queued, running, succeeded): their instances' `instance.state` events
   * and their parent's progress say it, at a million children without three million events.
   */
  async insert(em: EntityManager, rows: Partial<OperationEntity>[], opts: { returning?: boolean; events?: boolean } = {}): Promise<OperationEntity[]> {
    const stored = (await bulkInsert(em, OperationEntity, rows, { returning: opts.returning })).map((r) => fromRow<OperationEntity>(r));
    if (opts.events === false) return stored;
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
    return stored;
  }

  /**
   * Queues system operations (no caller) for instances, skipping any that already has an
   * active operation (the partial unique index decides, race-free). Returns the ones queued.
   */
  async insertSystem(em: EntityManager, rows: { id: string; projectId: string; instanceId: string; kind: OperationKind; request: Record<string, unknown>; jobQueue: string; jobId: string }[]): Promise<OperationEntity[]> {
    if (rows.length === 0) return [];
    const inserted = await em.query<Record<string, unknown>[]>(
      `INSERT INTO operations (id, project_id, instance_id, kind, status, progress, step, request, job_queue, job_id, job_data)
       SELECT r.id, r.project_id, r.instance_id, r.kind, 'queued', 0, 'queued', r.request, r.job_queue, r.job_id, jsonb_build_object('operationId', r.id)
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::jsonb[], $6::text[], $7::text[]) AS r(id, project_id, instance_id, kind, request, job_queue, job_id)
       ON CONFLICT (instance_id) WHERE status IN ('queued', 'running') AND instance_id IS NOT NULL DO NOTHING
       RETURNING *`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.projectId),
        rows.map((r) => r.instanceId),
        rows.map((r) => r.kind),
        rows.map((r) => JSON.stringify(r.request)),
        rows.map((r) => r.jobQueue),
        rows.map((r) => r.jobId),
      ],
    );
    const ops = inserted.map((r) => fromRow<OperationEntity>(r));
    await this.appendQueued(em, ops, { requestedBy: null });
    return ops;
  }

  /** The evacuation of the host that is queued or running, if any (at most one: evacuations lock the host's row first). */
  async activeEvacuation(em: EntityManager, hostId: string): Promise<OperationEntity | null> {
    const rows = await em.query<Record<string, unknown>[]>(
      `SELECT * FROM operations WHERE kind = 'evacuate' AND status IN ('queued', 'running') AND request->>'hostId' = $1 ORDER BY created_at LIMIT 1`,
      [hostId],
    );
    return rows[0] ? fromRow<OperationEntity>(rows[0]) : null;
  }

  /**
   * What an evacuation of the host would move now: instances in a `movable` state without an
   * operation of their own (`idle`), those with one (`busy`), and all that are on the host.
   */
  async evacuationCandidates(em: EntityManager, hostId: string, movable: readonly string[]): Promise<{ idle: number; busy: number; total: number }> {
    const [row] = await em.query<{ idle: number; busy: number; total: number }[]>(
      `SELECT count(*) FILTER (WHERE i.state = ANY($2::text[]) AND a.id IS NULL)::int AS idle,
              count(*) FILTER (WHERE a.id IS NOT NULL)::int AS busy, count(*)::int AS total
       FROM instances i LEFT JOIN operations a ON a.instance_id = i.id AND a.status IN ('queued', 'running')
       WHERE i.host_id = $1 AND i.state NOT IN ('deleted', 'deleting')`,
      [hostId, movable],
    );
    return row ?? { idle: 0, busy: 0, total: 0 };
  }

  /**
   * An evacuation's children, in its transaction: one queued `migrate` per instance on the
   * host in a `movable` state that has no operation of its own (the partial unique index
   * decides, race-free: an instance that got one meanwhile is left). Each child's request names
   * the host it leaves. Returns how many were queued and how many instances stay (`skipped`).
   */
  async insertEvacuationChildren(
    em: EntityManager,
    parent: { id: string; hostId: string; hostName: string; requestedBy: string | null; requestId: string | null },
    movable: readonly string[],
  ): Promise<{ moving: number; skipped: number }> {
    const inserted = await em.query<Record<string, unknown>[]>(
      `INSERT INTO operations (id, project_id, instance_id, parent_id, kind, status, progress, step, request, requested_by, request_id)
       SELECT gen_random_uuid(), i.project_id, i.id, $1::text::uuid, 'migrate', 'queued', 0, 'queued',
              jsonb_build_object('evacuate', $1::text, 'fromHostId', $2::text, 'fromHost', $3::text), $4::uuid, $5::text
       FROM instances i WHERE i.host_id = $2::text::uuid AND i.state = ANY($6::text[])
       ORDER BY COALESCE((i.ha->>'priority')::int, 0) DESC, i.id
       ON CONFLICT (instance_id) WHERE status IN ('queued', 'running') AND instance_id IS NOT NULL DO NOTHING
       RETURNING id, project_id, instance_id, kind`,
      [parent.id, parent.hostId, parent.hostName, parent.requestedBy, parent.requestId, movable],
    );
    const ops = inserted.map((r) => fromRow<OperationEntity>(r));
    await this.appendQueued(em, ops);
    const [on] = await em.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM instances WHERE host_id = $1 AND state NOT IN ('deleted', 'deleting')`, [parent.hostId]);
    return { moving: ops.length, skipped: Math.max(0, (on?.n ?? 0) - ops.length) };
  }

  /**
   * Many queued operations started and handed to their hosts at once (a batch's children);
   * guarded by status. Returns those that moved.
   */
  async dispatchMany(em: EntityManager, rows: { id: string; step: string; jobQueue: string; jobId: string; jobData: Record<string, unknown> | null }[]): Promise<OperationEntity[]> {
    if (rows.length === 0) return [];
    const updated = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE operations o SET status = 'running', started_at = now(), progress = 10, step = r.step,
         job_queue = r.job_queue, job_id = r.job_id, job_data = r.job_data, version = o.version + 1, updated_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) AS r(id, step, job_queue, job_id, job_data)
       WHERE o.id = r.id AND o.status = ANY($6::text[])
       RETURNING o.id, o.project_id, o.parent_id, o.kind, o.instance_id, o.status, o.progress, o.step, o.error`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.step),
        rows.map((r) => r.jobQueue),
        rows.map((r) => r.jobId),
        rows.map((r) => (r.jobData ? JSON.stringify(r.jobData) : null)),
        guardOperationFrom(['queued'], 'running'),
      ],
    );
    const ops = updated[0].map((r) => fromRow<OperationEntity>(r));
    // A batch's children start without an event of their own (see insert).
    await this.events.append(em, ops.filter((o) => !isBatchChild(o)).map((o) => this.statusEvent(o, 'queued')));
    return ops;
  }

  /**
   * Running operations whose host job is `jobIds[i]`, locked in id order (results applied in
   * bulk check that each result answers the job its operation is waiting for).
   */
  async lockWaitingFor(
    em: EntityManager,
    ids: string[],
  ): Promise<{ id: string; kind: OperationEntity['kind']; instanceId: string | null; jobId: string | null; jobQueue: string | null; status: OperationStatus }[]> {
    const rows = await em.query<{ id: string; kind: OperationEntity['kind']; instance_id: string | null; job_id: string | null; job_queue: string | null; status: OperationStatus }[]>(
      `SELECT id, kind, instance_id, job_id, job_queue, status FROM operations WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
      [ids],
    );
    return rows.map((r) => ({ id: r.id, kind: r.kind, instanceId: r.instance_id, jobId: r.job_id, jobQueue: r.job_queue, status: r.status }));
  }

  /** Which of these operations are still queued, locked in id order (a batch's chunk, before its instances are locked). */
  async lockQueued(em: EntityManager, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await em.query<{ id: string }[]>(`SELECT id FROM operations WHERE id = ANY($1::uuid[]) AND status = 'queued' ORDER BY id FOR UPDATE`, [ids]);
    return new Set(rows.map((r) => r.id));
  }

  /** Running operations succeeded at once; each result joins what the operation already holds (e.g. a create's failed hosts). */
  async succeedMany(em: EntityManager, rows: { id: string; result: Record<string, unknown> | null }[]): Promise<void> {
    if (rows.length === 0) return;
    const updated = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE operations o SET status = 'succeeded', progress = 100, step = 'done', finished_at = now(),
         result = CASE WHEN o.result IS NULL THEN r.result ELSE o.result || COALESCE(r.result, '{}'::jsonb) END,
         version = o.version + 1, updated_at = now()
       FROM unnest($1::uuid[], $2::jsonb[]) AS r(id, result)
       WHERE o.id = r.id AND o.status = ANY($3::text[])
       RETURNING o.id, o.project_id, o.parent_id, o.kind, o.instance_id, o.status, o.progress, o.step, o.error, o.created_at`,
      [rows.map((r) => r.id), rows.map((r) => (r.result ? JSON.stringify(r.result) : null)), guardOperationFrom(['running'], 'succeeded')],
    );
    const ops = updated[0].map((r) => fromRow<OperationEntity>(r));
    countFinished(em, ops);
    // A batch's children succeed without an event of their own (see insert); failures keep theirs.
    await this.events.append(em, ops.filter((o) => !isBatchChild(o)).map((o) => this.statusEvent(o, 'running')));
  }

  /** Many operations ended the same way at once (e.g. a batch's unschedulable children). */
  async finishMany(em: EntityManager, ids: string[], from: readonly OperationStatus[], to: 'succeeded' | 'failed' | 'cancelled', patch: { step: string; error?: OperationError | null }): Promise<OperationEntity[]> {
    if (ids.length === 0) return [];
    const updated = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE operations SET status = $3::text, step = $4, error = $5, finished_at = now(), started_at = COALESCE(started_at, now()),
         progress = CASE WHEN $3::text = 'succeeded' THEN 100 ELSE progress END, version = version + 1, updated_at = now()
       WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[]) RETURNING *`,
      [ids, guardOperationFrom(from, to), to, patch.step, patch.error ? JSON.stringify(patch.error) : null],
    );
    const ops = updated[0].map((r) => fromRow<OperationEntity>(r));
    countFinished(em, ops);
    await this.events.append(em, ops.map((o) => this.statusEvent(o, null)));
    return ops;
  }

  /** Points queued operations at their control job (children a batch hands to the single path); `jobIds[i]` is `ids[i]`'s. */
  async patchJobs(em: EntityManager, ids: string[], jobIds: string[]): Promise<void> {
    await em.query(
      `UPDATE operations o SET job_queue = 'control', job_id = r.job_id, job_data = jsonb_build_object('operationId', o.id), updated_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS r(id, job_id)
       WHERE o.id = r.id AND o.status = 'queued'`,
      [ids, jobIds],
    );
  }

  /** Which of these operations have ended. */
  async terminalAmong(ids: string[]): Promise<string[]> {
    const rows = await this.db.manager.query<{ id: string }[]>(
      `SELECT id FROM operations WHERE id = ANY($1::uuid[]) AND status IN ('succeeded', 'failed', 'cancelled')`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  async runningBatches(): Promise<OperationEntity[]> {
    // Parents whose progress is their children's: a batch of creates, an evacuation's migrations.
    // operations_running_parents holds only them: not a pass over every running child.
    return this.db.manager.find(OperationEntity, { where: { kind: In(['batch', 'batch-delete', 'evacuate']), status: 'running' }, take: 1000 });
  }

  /** Queued children of a batch not yet handed anywhere, oldest first (ids only). */
  async queuedChildren(parentId: string, limit: number): Promise<Pick<OperationEntity, 'id' | 'instanceId' | 'projectId'>[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      // In no particular order: a batch's children are alike, and sorting them all to take a
      // chunk would read every queued child each time.
      `SELECT id, instance_id, project_id FROM operations WHERE parent_id = $1 AND status = 'queued' AND job_queue IS NULL LIMIT $2`,
      [parentId, limit],
    );
    return rows.map((r) => fromRow<OperationEntity>(r));
  }

  /**
   * Queued children of a batch delete not yet handed anywhere, by their instances' hosts (so that
   * a chunk's destroys make few command batches, each with many commands): at most MAX_BATCH
   * children a parent, sorted whole each time.
   */
  async queuedChildrenByHost(parentId: string, limit: number): Promise<Pick<OperationEntity, 'id' | 'instanceId' | 'projectId'>[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT o.id, o.instance_id, o.project_id FROM operations o LEFT JOIN instances i ON i.id = o.instance_id
       WHERE o.parent_id = $1 AND o.status = 'queued' AND o.job_queue IS NULL
       ORDER BY i.host_id NULLS FIRST, o.id LIMIT $2`,
      [parentId, limit],
    );
    return rows.map((r) => fromRow<OperationEntity>(r));
  }

  private statusEvent(o: OperationEntity, from: OperationStatus | null): NewEvent {
    return {
      type: 'operation.status',
      subjectType: 'operation',
      subjectId: o.id,
      projectId: o.projectId,
      data: { kind: o.kind, instanceId: o.instanceId, from, status: o.status, progress: o.progress, step: o.step, error: o.error },
    };
  }

  /** One row by id (plain SQL: read on the path of every operation, where the ORM's query building showed in profiles). */
  async get(id: string, em: EntityManager = this.db.manager): Promise<OperationEntity | null> {
    const rows = await em.query<Record<string, unknown>[]>('SELECT * FROM operations WHERE id = $1', [id]);
    return rows[0] ? fromRow<OperationEntity>(rows[0]) : null;
  }

  async getLocked(em: EntityManager, id: string): Promise<OperationEntity | null> {
    return em.createQueryBuilder(OperationEntity, 'o').setLock('pessimistic_write').where('o.id = :id', { id }).getOne();
  }

  findByIdempotencyKey(scope: string, key: string): Promise<OperationEntity | null> {
    return this.db.manager.findOneBy(OperationEntity, { idempotencyScope: scope, idempotencyKey: key });
  }

  /** Of these instances, those with an operation queued or running. */
  async activeInstanceIds(instanceIds: string[]): Promise<string[]> {
    if (instanceIds.length === 0) return [];
    const rows = await this.db.manager.query<{ instance_id: string }[]>(
      `SELECT DISTINCT instance_id FROM operations WHERE instance_id = ANY($1::uuid[]) AND status IN ('queued', 'running')`,
      [instanceIds],
    );
    return rows.map((r) => r.instance_id);
  }

  /**
   * The instance's active operation, locked. Operation rows are locked before their instance's
   * (as the controller and a cancel do), so a request that would change the instance takes
   * this first: it waits for a cancel in flight instead of deadlocking with it.
   */
  async lockActiveForInstance(em: EntityManager, instanceId: string): Promise<OperationEntity | null> {
    const rows = await em.query<Record<string, unknown>[]>(
      `SELECT * FROM operations WHERE instance_id = $1 AND status IN ('queued', 'running') FOR UPDATE`,
      [instanceId],
    );
    return rows[0] ? fromRow<OperationEntity>(rows[0]) : null;
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
    // Only what the domain's table allows: a terminal operation never moves again.
    const allowed = guardOperationFrom(from, to);
    if (allowed.length === 0) return null;
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
      [id, allowed, ...params],
    );
    const row = result[0][0];
    if (!row) return null;
    const op = fromRow<OperationEntity & { previousStatus: OperationStatus }>(row);
    if (terminal) countFinished(em, [op]);
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

  /** An operation that has not ended says what it waits for (its status stays). False if it ended. */
  async markWaiting(id: string, step: string): Promise<boolean> {
    const rows: unknown[] = await this.db.manager.query(
      `UPDATE operations SET step = $2, version = version + 1, updated_at = now() WHERE id = $1 AND status IN ('queued', 'running') RETURNING id`,
      [id, step],
    );
    return rows.length > 0;
  }

  /** Progress only moves forward, and only while running. */
  /** Progress of a running operation; from a host, only for the host queue it waits on (`jobQueue`). */
  async progress(id: string, percent: number, step: string, jobQueue?: string): Promise<void> {
    await this.db.manager.query(
      `UPDATE operations SET progress = GREATEST(progress, $2), step = $3, updated_at = now()
       WHERE id = $1 AND status = 'running' AND ($4::text IS NULL OR job_queue = $4)`,
      [id, Math.max(0, Math.min(99, Math.round(percent))), step.slice(0, 100), jobQueue ?? null],
    );
  }

  /**
   * The operation's work now travels under another job id; with `jobData`, the job's payload is
   * kept too, so that if this job is lost as well it can be sent again as it is.
   */
  async rejob(id: string, jobId: string, jobData?: unknown): Promise<void> {
    if (jobData === undefined) {
      await this.db.manager.query('UPDATE operations SET job_id = $2, version = version + 1, updated_at = now() WHERE id = $1', [id, jobId]);
      return;
    }
    await this.db.manager.query('UPDATE operations SET job_id = $2, job_data = $3, version = version + 1, updated_at = now() WHERE id = $1', [id, jobId, JSON.stringify(jobData)]);
  }

  /** Marks an operation as looked at, so it is not picked up again at once. */
  async touch(id: string): Promise<void> {
    await this.db.manager.query('UPDATE operations SET updated_at = now() WHERE id = $1', [id]);
  }

  /**
   * Running operations past their deadline: started longer ago than their kind's timeout
   * (`timeouts`, seconds by kind) or, for other kinds, `defaultS`. Oldest first. Only those
   * older than the shortest timeout are read (operations_running_since), not every running one.
   */
  async pastDeadline(defaultS: number, timeouts: ReadonlyMap<string, number>, limit: number): Promise<Pick<OperationEntity, 'id' | 'kind'>[]> {
    const rows = await this.db.manager.query<{ id: string; kind: OperationEntity['kind'] }[]>(
      `SELECT o.id, o.kind FROM operations o
         LEFT JOIN unnest($2::text[], $3::int[]) AS t(kind, secs) ON t.kind = o.kind
       WHERE o.status = 'running' AND o.started_at < now() - make_interval(secs => $5::int)
         AND o.started_at < now() - make_interval(secs => COALESCE(t.secs, $1::int))
       ORDER BY o.started_at LIMIT $4`,
      [defaultS, [...timeouts.keys()], [...timeouts.values()], limit, Math.min(defaultS, ...timeouts.values())],
    );
    return rows;
  }

  /** Active operations not touched for a while: candidates for re-enqueueing. */
  async staleActive(olderThanMs: number, limit: number): Promise<OperationEntity[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT * FROM operations WHERE status IN ('queued', 'running') AND job_queue IS NOT NULL
         AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
       ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return rows.map((r) => fromRow<OperationEntity>(r));
  }

  /** Every non-terminal operation, oldest first (rebuild at controller start). */
  async allActive(afterId: string | null, limit: number): Promise<OperationEntity[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT * FROM operations WHERE status IN ('queued', 'running') AND job_queue IS NOT NULL AND ($1::uuid IS NULL OR id > $1::uuid)
       ORDER BY id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((r) => fromRow<OperationEntity>(r));
  }

  /**
   * Children still queued or running of each of these parents, in one statement that reads
   * only the active children (operations_parent_status), not every child of every batch.
   */
  async activeChildCounts(parentIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (parentIds.length === 0) return out;
    const rows = await this.db.manager.query<{ id: string; n: number }[]>(
      `SELECT p.id, (SELECT count(*)::int FROM operations c WHERE c.parent_id = p.id AND c.status IN ('queued', 'running')) AS n
       FROM unnest($1::uuid[]) AS p(id)`,
      [parentIds],
    );
    for (const r of rows) out.set(r.id, r.n);
    return out;
  }

  /** How many children a parent has. */
  async childTotal(parentId: string): Promise<number> {
    const rows = await this.db.manager.query<{ n: number }[]>('SELECT count(*)::int AS n FROM operations WHERE parent_id = $1', [parentId]);
    return rows[0]?.n ?? 0;
  }

  /**
   * A running parent's progress (with `result`: its result so far, as an evacuation's counts),
   * with an operation.status event saying it (its children have none of their own).
   */
  async parentProgress(id: string, percent: number, step: string, result?: Record<string, unknown>): Promise<void> {
    await this.db.transaction(async (em) => {
      const rows = await em.query<[Record<string, unknown>[], number]>(
        `UPDATE operations SET progress = GREATEST(progress, $2), step = $3, result = COALESCE($4::jsonb, result), version = version + 1, updated_at = now()
         WHERE id = $1 AND status = 'running' RETURNING id, project_id, kind, instance_id, status, progress, step, error`,
        [id, Math.max(0, Math.min(99, Math.round(percent))), step.slice(0, 100), result ? JSON.stringify(result) : null],
      );
      const op = rows[0][0];
      if (op) await this.events.append(em, [this.statusEvent(fromRow<OperationEntity>(op), 'running')]);
    });
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

  /** The first operation.status event of operations just queued (with `extra` in its data). */
  private async appendQueued(em: EntityManager, ops: OperationEntity[], extra: Record<string, unknown> = {}): Promise<void> {
    await this.events.append(
      em,
      ops.map((o) => ({
        type: 'operation.status',
        subjectType: 'operation',
        subjectId: o.id,
        projectId: o.projectId,
        data: { kind: o.kind, instanceId: o.instanceId, from: null, status: 'queued', progress: 0, ...extra },
      })),
    );
  }
}
