import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Messages written in the same transaction as the change they announce, then relayed to
 * BullMQ by the controller and deleted. `jobId` makes a second relay of a row a no-op.
 */
@Entity('outbox')
export class OutboxEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  queue!: string;

  @Column({ type: 'varchar', length: 100 })
  jobName!: string;

  @Column({ type: 'varchar', length: 200 })
  jobId!: string;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
