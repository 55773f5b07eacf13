import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Every instance and operation belongs to a project; a `default` project always exists. */
@Entity('projects')
export class ProjectEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 63, unique: true })
  name!: string;

  @Column({ type: 'text', default: '' })
  description!: string;

  /** Scheduling policy overrides for the project (strategy, allocation ratios). */
  @Column({ type: 'jsonb', nullable: true })
  policy!: Record<string, unknown> | null;

  /**
   * Quota: { instances?, vcpus?, memoryMiB?, diskGiB?, perTechnology?: { container?: {…},
   * vm?: {…} } }; a missing limit is unlimited. Read by the hp_quota_check trigger.
   */
  @Column({ type: 'jsonb', nullable: true })
  quota!: Record<string, unknown> | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}

export const DEFAULT_PROJECT_ID = '00000000-0000-4000-8000-000000000001';
export const DEFAULT_PROJECT_NAME = 'default';
