import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { MILLI_VCPUS } from './milli-vcpus';

/**
 * One interval during which an instance held resources in one metered state (running,
 * stopped, suspended). Written only by the `instances` accounting trigger (a migration), on
 * every change of state or size, so intervals meet exactly and hours add up; never sampled.
 * Append-only: the open interval (ended_at null) is closed once, by the next change.
 */
@Entity('usage_intervals')
@Index('usage_intervals_open', ['instanceId'], { unique: true, where: 'ended_at IS NULL' })
@Index('usage_intervals_project_started', ['projectId', 'startedAt'])
export class UsageIntervalEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column({ type: 'uuid' })
  instanceId!: string;

  @Column({ type: 'uuid' })
  projectId!: string;

  @Column({ type: 'varchar', length: 16 })
  technology!: string;

  @Column({ type: 'varchar', length: 16 })
  state!: string;

  /** Stored in milli-vCPUs (MILLI_VCPUS); a decimal here. */
  @Column({ type: 'int', transformer: MILLI_VCPUS })
  vcpus!: number;

  @Column({ type: 'int' })
  memoryMib!: number;

  @Column({ type: 'int' })
  diskGib!: number;

  @Column({ type: 'timestamptz' })
  startedAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  endedAt!: Date | null;
}
