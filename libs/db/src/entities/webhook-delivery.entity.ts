import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export interface DeliveryAttempt {
  at: string;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
}

/**
 * One event for one webhook: written in the transaction that appends the event (an outbox),
 * relayed to BullMQ by the controller, and its attempts logged here.
 */
@Entity('webhook_deliveries')
@Index('webhook_deliveries_webhook', ['webhookId', 'createdAt'])
// The relay's work list: only rows not yet handed to the queue.
@Index('webhook_deliveries_unsent', ['createdAt'], { where: 'queued = false' })
// The rescue's work list: pending deliveries by when their next attempt is due.
@Index('webhook_deliveries_due', ['nextAttemptAt'], { where: "status = 'pending'" })
export class WebhookDeliveryEntity {
  /** Also the `webhook-id` header: stable across retries, the receiver's idempotency key. */
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  webhookId!: string;

  @Column({ type: 'bigint', nullable: true })
  eventId!: string | null;

  @Column({ type: 'varchar', length: 64 })
  type!: string;

  /** The body sent: `{ type, timestamp, data }`. */
  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  /** pending | succeeded | failed (gave up or the webhook was disabled). */
  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status!: string;

  @Column({ type: 'boolean', default: false })
  queued!: boolean;

  @Column({ type: 'jsonb', default: [] })
  attempts!: DeliveryAttempt[];

  /** When the queued job should next run: one long overdue was lost with Redis, and is queued again. */
  @Column({ type: 'timestamptz', nullable: true })
  nextAttemptAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;
}
