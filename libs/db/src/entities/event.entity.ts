import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export const EVENT_SUBJECTS = ['instance', 'operation', 'host'] as const;
export type EventSubject = (typeof EVENT_SUBJECTS)[number];

/** An append-only log of state changes, streamed to clients as server-sent events. */
@Entity('events')
// A BRIN index (made by a migration; TypeORM cannot declare one): pruning by age needs only
// ranges of blocks, and an append-only log keeps it tiny and nearly free to maintain.
@Index('events_created', { synchronize: false })
// A project's token replays its own events: read in id order without passing over others'.
@Index('events_project', ['projectId', 'id'])
export class EventEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  /** e.g. instance.state, operation.status, host.status */
  @Column({ type: 'varchar', length: 64 })
  type!: string;

  @Column({ type: 'varchar', length: 16 })
  subjectType!: EventSubject;

  @Column({ type: 'uuid' })
  subjectId!: string;

  /** null for fleet events (hosts): only fleet-wide tokens see them. */
  @Column({ type: 'uuid', nullable: true })
  projectId!: string | null;

  @Column({ type: 'jsonb', default: {} })
  data!: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
