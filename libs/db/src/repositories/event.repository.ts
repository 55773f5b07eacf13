import { EntityManager } from 'typeorm';
import { atCommit, Database, fromRow } from '../database';
import { EventEntity, EventSubject } from '../entities';
import { recordset } from '../sql';

export interface NewEvent {
  type: string;
  subjectType: EventSubject;
  subjectId: string;
  projectId: string | null;
  data: Record<string, unknown>;
}

export const EVENTS_CHANNEL = 'hp_events';

// Which webhook event type an event is (null: none), and what a subscriber is told about it:
// a chosen few fields, the host only to fleet-wide subscriptions (project tokens never see hosts).
const WEBHOOK_FANOUT = `,
  typed AS (
    SELECT i.*, CASE
      WHEN i.type = 'instance.state' THEN 'instance.state_changed'
      WHEN i.type = 'operation.status' AND i.data->>'status' IN ('succeeded', 'failed', 'cancelled') THEN 'operation.completed'
      WHEN i.type = 'host.status' THEN 'host.status_changed'
    END AS hook_type FROM inserted i)
  INSERT INTO webhook_deliveries (id, webhook_id, event_id, type, payload)
  SELECT gen_random_uuid(), w.id, t.id, t.hook_type, jsonb_build_object(
    'type', t.hook_type,
    'timestamp', to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'data', jsonb_strip_nulls(CASE t.hook_type
      WHEN 'instance.state_changed' THEN jsonb_build_object('instanceId', t.subject_id, 'projectId', t.project_id, 'name', t.data->'name',
        'from', t.data->'from', 'state', t.data->'state', 'reason', t.data->'reason', 'hostId', CASE WHEN w.project_id IS NULL THEN t.data->'hostId' END)
      WHEN 'operation.completed' THEN jsonb_build_object('operationId', t.subject_id, 'projectId', t.project_id, 'kind', t.data->'kind',
        'instanceId', t.data->'instanceId', 'status', t.data->'status', 'error', t.data->'error')
      ELSE jsonb_build_object('hostId', t.subject_id, 'name', t.data->'name', 'status', t.data->'status', 'reason', t.data->'reason')
    END))
  FROM typed t JOIN webhooks w ON w.enabled AND t.hook_type = ANY(w.events)
    AND (w.project_id IS NULL OR w.project_id = t.project_id)`;

/** The event log. Appends happen inside the transaction of the change they describe. */
export class EventRepository {
  private readonly buffers = new WeakMap<EntityManager, NewEvent[]>();

  constructor(private readonly db: Database) {}

  /**
   * Records events in the caller's transaction. Inside Database.transaction they are buffered
   * and written in one INSERT just before commit, however many changes the transaction made.
   */
  async append(em: EntityManager, events: NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    let buffer = this.buffers.get(em);
    if (!buffer) {
      if (!atCommit(em, 'events', (tx) => this.flush(tx))) return this.insert(em, events);
      buffer = [];
      this.buffers.set(em, buffer);
    }
    buffer.push(...events);
  }

  private async flush(em: EntityManager): Promise<void> {
    const events = this.buffers.get(em) ?? [];
    this.buffers.delete(em);
    await this.insert(em, events);
  }

  /**
   * One INSERT of one JSON document (see recordset), whatever the count. The same statement
   * fans the events out to the webhooks that want them (WEBHOOK_FANOUT): a delivery exists iff
   * its event committed, so none is lost to a crash or skipped by a reader's cursor.
   */
  private async insert(em: EntityManager, events: NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    await em.query(
      `WITH inserted AS (
         INSERT INTO events (type, subject_type, subject_id, project_id, data)
         SELECT e.type, e."subjectType", e."subjectId", e."projectId", e.data
         FROM ${recordset(1, 'e', [['type', 'text'], ['subjectType', 'text'], ['subjectId', 'uuid'], ['projectId', 'uuid'], ['data', 'jsonb']])}
         RETURNING id, type, subject_id, project_id, data, created_at)
       ${WEBHOOK_FANOUT}`,
      [JSON.stringify(events)],
    );
  }

  /** Events after `afterId`, oldest first. */
  async since(afterId: string, limit = 1000): Promise<EventEntity[]> {
    const rows: Record<string, unknown>[] = await this.db.manager.query(
      'SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2',
      [afterId, limit],
    );
    return rows.map((r) => fromRow<EventEntity>(r));
  }

  /**
   * One page of a replay: the events after `afterId` up to `upTo` that a caller may see, oldest
   * first. The project filter runs here, in SQL (keyset on id), so a project's replay reads
   * only its own rows, never every tenant's. `projectIds` null: every project and the fleet's
   * own events (hosts); otherwise those projects only.
   */
  async page(filter: { afterId: string; upTo: string; projectIds: string[] | null; subjects: readonly EventSubject[]; limit: number }): Promise<EventEntity[]> {
    const params: unknown[] = [filter.afterId, filter.upTo, filter.subjects, filter.limit];
    let project = '';
    if (filter.projectIds?.length === 1) {
      // One project (the usual token): an equality walks events_project (project, id) in order.
      project = 'project_id = $5 AND ';
      params.push(filter.projectIds[0]);
    } else if (filter.projectIds) {
      project = 'project_id = ANY($5::uuid[]) AND ';
      params.push(filter.projectIds);
    }
    const rows: Record<string, unknown>[] = await this.db.manager.query(
      `SELECT * FROM events WHERE ${project}id > $1 AND id <= $2 AND subject_type = ANY($3::text[]) ORDER BY id LIMIT $4`,
      params,
    );
    return rows.map((r) => fromRow<EventEntity>(r));
  }

  async byIds(ids: string[]): Promise<EventEntity[]> {
    if (ids.length === 0) return [];
    const rows: Record<string, unknown>[] = await this.db.manager.query('SELECT * FROM events WHERE id = ANY($1::bigint[]) ORDER BY id', [ids]);
    return rows.map((r) => fromRow<EventEntity>(r));
  }

  async latestId(): Promise<string> {
    const [row] = await this.db.manager.query<{ id: string }[]>('SELECT COALESCE(MAX(id), 0)::text AS id FROM events');
    return row?.id ?? '0';
  }

  /** Drops events older than `days`; the stream is for following changes, not an archive. */
  async prune(days: number): Promise<number> {
    const [, count] = await this.db.manager.query<[unknown, number]>(`DELETE FROM events WHERE created_at < now() - make_interval(days => $1)`, [days]);
    return count;
  }
}
