import { InstanceEntity } from './instance.entity';
import { ProjectEntity } from './project.entity';
import { BatchKind, OperationKind, OperationStatus } from '@hyperplane/domain';
import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';

export interface OperationError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * One asynchronous change, followed by anyone (cf. Incus operations, Proxmox tasks). At most
 * one queued or running operation per instance, enforced by a partial unique index.
 */
@Entity('operations')
@Index('operations_one_active_per_instance', ['instanceId'], {
  unique: true,
  where: `status IN ('queued', 'running') AND instance_id IS NOT NULL`,
})
@Index('operations_idempotency', ['idempotencyScope', 'idempotencyKey'], {
  unique: true,
  where: 'idempotency_key IS NOT NULL',
})
@Index('operations_project_created', ['projectId', 'createdAt', 'id'])
@Index('operations_parent_status', ['parentId', 'status'], { where: 'parent_id IS NOT NULL' })
// What the reconciler and the deadline check read (migration OperationWatchIndexes): active
// operations with a job by last touch, running ones by start.
@Index('operations_stale', ['updatedAt'], { where: `status IN ('queued', 'running') AND job_queue IS NOT NULL` })
@Index('operations_running_since', ['startedAt'], { where: `status = 'running'` })
// Running parents (batches, evacuations), which BatchWatcher follows every second: without it,
// finding them reads every running operation, a million children in a big batch's wake.
@Index('operations_running_parents', ['id'], { where: `kind IN ('batch', 'batch-delete', 'evacuate') AND status = 'running'` })
@Check('operations_progress_range', 'progress BETWEEN 0 AND 100')
export class OperationEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  projectId!: string;

  @ManyToOne(() => ProjectEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'project_id' })
  project?: ProjectEntity;

  @Column({ type: 'uuid', nullable: true })
  instanceId!: string | null;

  @ManyToOne(() => InstanceEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'instance_id' })
  instance?: InstanceEntity;

  /** A batch's children point at their parent. */
  @Column({ type: 'uuid', nullable: true })
  parentId!: string | null;

  @ManyToOne(() => OperationEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'parent_id' })
  parent?: OperationEntity;

  @Column({ type: 'varchar', length: 16 })
  kind!: OperationKind | BatchKind;

  @Column({ type: 'varchar', length: 16 })
  status!: OperationStatus;

  @Column({ type: 'smallint', default: 0 })
  progress!: number;

  @Column({ type: 'varchar', length: 100, default: 'queued' })
  step!: string;

  @Column({ type: 'jsonb', nullable: true })
  error!: OperationError | null;

  /** The request as accepted (normalised), for replays and audits. */
  @Column({ type: 'jsonb', default: {} })
  request!: Record<string, unknown>;

  @Column({ type: 'jsonb', nullable: true })
  result!: Record<string, unknown> | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  idempotencyKey!: string | null;

  /** Whose key it is: the token id; keys of different callers never collide. */
  @Column({ type: 'uuid', nullable: true })
  idempotencyScope!: string | null;

  /** SHA-256 of method, path and body: the same key with another request is a conflict. */
  @Column({ type: 'char', length: 64, nullable: true })
  requestHash!: string | null;

  /** The token that asked; null for the system (e.g. a reschedule). */
  @Column({ type: 'uuid', nullable: true })
  requestedBy!: string | null;

  /** The X-Request-Id of the request that made it: logs from the api to the driver carry it. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  requestId!: string | null;

  /** Where the work is now, so lost work can be re-enqueued under the same job id. */
  @Column({ type: 'varchar', length: 100, nullable: true })
  jobQueue!: string | null;

  @Column({ type: 'varchar', length: 200, nullable: true })
  jobId!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  jobData!: Record<string, unknown> | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @VersionColumn({ default: 1 })
  version!: number;
}
