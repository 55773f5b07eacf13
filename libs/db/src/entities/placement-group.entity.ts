import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { ProjectEntity } from './project.entity';

export const PLACEMENT_GROUP_POLICIES = ['affinity', 'anti-affinity'] as const;
export type PlacementGroupPolicy = (typeof PLACEMENT_GROUP_POLICIES)[number];

/** Instances that should share hosts (affinity) or avoid sharing them (anti-affinity). */
@Entity('placement_groups')
@Index('placement_groups_project_name', ['projectId', 'name'], { unique: true })
export class PlacementGroupEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  projectId!: string;

  @ManyToOne(() => ProjectEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'project_id' })
  project?: ProjectEntity;

  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Column({ type: 'varchar', length: 16 })
  policy!: PlacementGroupPolicy;

  /** Hard (a filter: refused rather than broken) or soft (a preference). */
  @Column({ type: 'boolean', default: true })
  strict!: boolean;

  /** Members per host at most (null: no limit beyond the policy). */
  @Column({ type: 'int', nullable: true })
  maxPerHost!: number | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
