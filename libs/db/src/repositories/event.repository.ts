import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { EntityManager } from 'typeorm';
import { Database, fromRow } from '../database';
import { EventEntity, EventSubject } from '../entities';

export interface NewEvent {
  type: string;
  subjectType: EventSubject;
  subjectId: string;
  projectId: string | null;
  data: Record<string, unknown>;
}

export const EVENTS_CHANNEL = 'hp_events';

/** The event log. Appends happen inside the transaction of the change they describe. */
export class EventRepository {
  constructor(private readonly db: Database) {}

  async append(em: EntityManager, events: NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    await em.createQueryBuilder().insert().into(EventEntity).values(events as QueryDeepPartialEntity<EventEntity>[]).execute();
  }

  /** Events after `afterId`, oldest first. */
  async since(afterId: string, limit = 1000): Promise<EventEntity[]> {
    const rows: Record<string, unknown>[] = await this.db.manager.query(
      'SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2',
      [afterId, limit],
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
