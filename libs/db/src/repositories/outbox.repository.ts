import { EntityManager } from 'typeorm';
import { outboxRelayLag } from '@hyperplane/observability';
import { Database } from '../database';
import { recordset } from '../sql';

export interface OutboxMessage {
  queue: string;
  jobName: string;
  jobId: string;
  payload: Record<string, unknown>;
}

export const OUTBOX_CHANNEL = 'hp_outbox';

export class OutboxRepository {
  constructor(private readonly db: Database) {}

  /** Adds messages in the caller's transaction; a trigger NOTIFYs the relay at commit. */
  async add(em: EntityManager, messages: OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await em.query(
      `INSERT INTO outbox (queue, job_name, job_id, payload)
       SELECT m.queue, m."jobName", m."jobId", m.payload FROM ${recordset(1, 'm', [['queue', 'text'], ['jobName', 'text'], ['jobId', 'text'], ['payload', 'jsonb']])}`,
      [JSON.stringify(messages)],
    );
  }

  /**
   * Takes up to `limit` messages that no other relay holds (SKIP LOCKED), hands them to
   * `deliver`, and deletes them once it returns. If `deliver` throws, nothing is deleted and
   * the messages are relayed again later; their job ids make the repeat harmless.
   */
  async relayBatch(limit: number, deliver: (messages: OutboxMessage[]) => Promise<void>): Promise<number> {
    return this.db.transaction(async (em) => {
      // Taken and deleted in one statement (the rows stay locked, so no other relay sees them,
      // and come back if `deliver` throws and the transaction rolls back). Deleting relayed rows
      // needs no flush to disk: a delete lost in a crash relays the row again, and its job id
      // makes that add a no-op; set_config turns the flush off in the same statement.
      const rows = await em.query<(OutboxMessage & { id: string; createdAt: Date })[]>(
        `WITH taken AS (SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED),
              gone AS (DELETE FROM outbox o USING taken WHERE o.id = taken.id
                       RETURNING o.id, o.queue, o.job_name, o.job_id, o.payload, o.created_at)
         SELECT id, queue, job_name AS "jobName", job_id AS "jobId", payload, created_at AS "createdAt",
                set_config('synchronous_commit', 'off', true) AS "syncOff"
           FROM gone ORDER BY id`,
        [limit],
      );
      if (rows.length === 0) return 0;
      await deliver(rows.map(({ queue, jobName, jobId, payload }) => ({ queue, jobName, jobId, payload })));
      const now = Date.now();
      for (const r of rows) outboxRelayLag.observe(Math.max(0, now - new Date(r.createdAt).getTime()) / 1000);
      return rows.length;
    });
  }

  /** Rows waiting to be relayed, and the age of the oldest in seconds (0 when none). */
  async backlog(): Promise<{ pending: number; oldestAgeS: number }> {
    const [row] = await this.db.manager.query<{ n: number; age: number | null }[]>(
      'SELECT count(*)::int AS n, EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS age FROM outbox',
    );
    return { pending: row?.n ?? 0, oldestAgeS: Math.max(0, row?.age ?? 0) };
  }

  async count(): Promise<number> {
    const [row] = await this.db.manager.query<{ n: number }[]>('SELECT count(*)::int AS n FROM outbox');
    return row?.n ?? 0;
  }
}
