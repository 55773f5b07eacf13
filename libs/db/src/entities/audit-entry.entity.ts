import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Who did what, when, from where, and how it ended. Append-only: a trigger (see the migration)
 * refuses UPDATE and DELETE unless the pruner says so for its own transaction.
 */
@Entity('audit_entries')
// A BRIN index on created_at (made by the migration) serves pruning by age.
@Index('audit_entries_created', { synchronize: false })
@Index('audit_entries_project', ['projectId', 'id'])
export class AuditEntryEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'uuid', nullable: true })
  tokenId!: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  tokenName!: string | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  role!: string | null;

  /** The project the change concerned, when it concerned one. */
  @Column({ type: 'uuid', nullable: true })
  projectId!: string | null;

  /** e.g. `POST /v1/instances`, or `queue create`. */
  @Column({ type: 'varchar', length: 128 })
  action!: string;

  /** The path (or the queue job's target) the action was on. */
  @Column({ type: 'text' })
  target!: string;

  /** The caller's address, or "queue". */
  @Column({ type: 'varchar', length: 64 })
  source!: string;

  @Column({ type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;

  /** The HTTP status the request ended with (or the one the queue job would have had). */
  @Column({ type: 'int' })
  status!: number;
}
