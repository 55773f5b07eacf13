import { randomUUID } from 'node:crypto';
import { Database, fromRow } from '../database';
import { DeliveryAttempt, WebhookDeliveryEntity, WebhookEntity } from '../entities';

/** Webhook subscriptions and their deliveries (filled by EventRepository's fan-out). */
/** NOTIFYed (by a trigger) when a webhook delivery waits to be queued: new, or sent again. */
export const WEBHOOKS_CHANNEL = 'hp_webhooks';

export class WebhookRepository {
  constructor(private readonly db: Database) {}

  async insert(row: Omit<WebhookEntity, 'createdAt' | 'enabled' | 'disabledReason'>): Promise<WebhookEntity> {
    const [created] = await this.db.manager.query<Record<string, unknown>[]>(
      `INSERT INTO webhooks (id, url, events, project_id, secret, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
      [row.id, row.url, row.events, row.projectId, row.secret, row.createdBy],
    );
    return fromRow<WebhookEntity>(created!);
  }

  /** `projectIds` null: every webhook; else those of these projects only (never fleet-wide ones). */
  async list(projectIds: string[] | null): Promise<WebhookEntity[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT * FROM webhooks WHERE $1::uuid[] IS NULL OR project_id = ANY($1::uuid[]) ORDER BY created_at, id`,
      [projectIds],
    );
    return rows.map((r) => fromRow<WebhookEntity>(r));
  }

  async get(id: string): Promise<WebhookEntity | null> {
    const [row] = await this.db.manager.query<Record<string, unknown>[]>('SELECT * FROM webhooks WHERE id = $1', [id]);
    return row ? fromRow<WebhookEntity>(row) : null;
  }

  /** Deletes the webhook and its delivery log. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction(async (em) => {
      await em.query('DELETE FROM webhook_deliveries WHERE webhook_id = $1', [id]);
      const [, n] = await em.query<[unknown, number]>('DELETE FROM webhooks WHERE id = $1', [id]);
      return n > 0;
    });
  }

  async disable(id: string, reason: string): Promise<void> {
    await this.db.manager.query('UPDATE webhooks SET enabled = false, disabled_reason = $2 WHERE id = $1', [id, reason]);
  }

  /** A webhook's deliveries, newest first (keyset on created_at, id). */
  async deliveries(webhookId: string, limit: number, before?: { createdAt: Date; id: string }): Promise<WebhookDeliveryEntity[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT * FROM webhook_deliveries WHERE webhook_id = $1 AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $2`,
      [webhookId, limit, before?.createdAt ?? null, before?.id ?? null],
    );
    return rows.map((r) => fromRow<WebhookDeliveryEntity>(r));
  }

  async delivery(id: string): Promise<WebhookDeliveryEntity | null> {
    const [row] = await this.db.manager.query<Record<string, unknown>[]>('SELECT * FROM webhook_deliveries WHERE id = $1', [id]);
    return row ? fromRow<WebhookDeliveryEntity>(row) : null;
  }

  /**
   * Takes up to `limit` deliveries not yet queued (SKIP LOCKED: many relays at once), hands them
   * to `enqueue`, and marks them queued once it returns; if it throws, they are taken again later.
   */
  async relayBatch(limit: number, enqueue: (rows: { id: string; attempt: number }[]) => Promise<void>): Promise<number> {
    // The relay is woken by a delivery's NOTIFY and by a poll every second, which mostly finds
    // none: one indexed look first, instead of a transaction of three round trips. A delivery
    // committed after this look wakes the relay again with its own NOTIFY.
    const [pending] = await this.db.manager.query<{ any: boolean }[]>('SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE queued = false) AS any');
    if (!pending?.any) return 0;
    return this.db.transaction(async (em) => {
      const rows = await em.query<{ id: string; attempt: number }[]>(
        `SELECT id, jsonb_array_length(attempts) AS attempt FROM webhook_deliveries WHERE queued = false ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return 0;
      await enqueue(rows);
      await em.query('UPDATE webhook_deliveries SET queued = true, next_attempt_at = now() WHERE id = ANY($1::uuid[])', [rows.map((r) => r.id)]);
      return rows.length;
    });
  }

  /** Logs one attempt; `finish` ends the delivery (succeeded or failed), else `nextInMs` is when the retry is due. */
  async recordAttempt(id: string, attempt: DeliveryAttempt, finish: 'succeeded' | 'failed' | null, nextInMs = 0): Promise<void> {
    await this.db.manager.query(
      `UPDATE webhook_deliveries SET attempts = attempts || $2::jsonb, status = COALESCE($3, status),
         finished_at = CASE WHEN $3::text IS NULL THEN NULL ELSE now() END,
         next_attempt_at = CASE WHEN $3::text IS NULL THEN now() + make_interval(secs => $4::float8 / 1000) END
       WHERE id = $1`,
      [id, JSON.stringify([attempt]), finish, nextInMs],
    );
  }

  /**
   * Hands back to the relay the pending deliveries whose job is overdue by more than `graceS`
   * (its job was lost with Redis, or never ran): at least once, even then. A job that was
   * merely late may then send its delivery twice; receivers dedupe on webhook-id.
   */
  async rescueOverdue(graceS: number): Promise<number> {
    const [, n] = await this.db.manager.query<[unknown, number]>(
      `UPDATE webhook_deliveries SET queued = false, next_attempt_at = NULL
       WHERE status = 'pending' AND queued AND next_attempt_at < now() - make_interval(secs => $1::float8)`,
      [graceS],
    );
    return n;
  }

  async finish(id: string, status: 'succeeded' | 'failed'): Promise<void> {
    await this.db.manager.query(`UPDATE webhook_deliveries SET status = $2, finished_at = now() WHERE id = $1`, [id, status]);
  }

  /** Sends a delivery again (same id, a fresh schedule): the relay picks it up. */
  async redeliver(id: string): Promise<void> {
    await this.db.manager.query(`UPDATE webhook_deliveries SET status = 'pending', queued = false, finished_at = NULL WHERE id = $1`, [id]);
  }

  /** Test helper and admin aid: a delivery of arbitrary payload (e.g. a ping). */
  async insertDelivery(webhookId: string, type: string, payload: Record<string, unknown>): Promise<string> {
    const id = randomUUID();
    await this.db.manager.query('INSERT INTO webhook_deliveries (id, webhook_id, type, payload) VALUES ($1, $2, $3, $4)', [id, webhookId, type, payload]);
    return id;
  }

  /** Drops finished deliveries older than `days`. */
  async prune(days: number): Promise<number> {
    const [, n] = await this.db.manager.query<[unknown, number]>(
      `DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < now() - make_interval(days => $1)`,
      [days],
    );
    return n;
  }
}
