import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** A subscription: signed deliveries of some event types to one URL (Standard Webhooks). */
@Entity('webhooks')
@Index('webhooks_project', ['projectId'])
export class WebhookEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'text' })
  url!: string;

  /** Webhook event types (WEBHOOK_EVENT_TYPES in domain). */
  @Column({ type: 'text', array: true })
  events!: string[];

  /** null: fleet-wide (every project and host events); else that project's events only. */
  @Column({ type: 'uuid', nullable: true })
  projectId!: string | null;

  /** `whsec_<base64>`; kept to sign, shown to its maker once. */
  @Column({ type: 'text' })
  secret!: string;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  /** Why deliveries stopped (the endpoint answered 410, …). */
  @Column({ type: 'text', nullable: true })
  disabledReason!: string | null;

  @Column({ type: 'uuid', nullable: true })
  createdBy!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
