import { HostEntity } from './host.entity';
import { MILLI_VCPUS } from './milli-vcpus';
import { PlacementGroupEntity } from './placement-group.entity';
import { ProjectEntity } from './project.entity';
import { Arch, DriverName, HaPolicy, InstanceState, IsolationNeeds, RequestedTechnology, Technology } from '@hyperplane/domain';
import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';

/** What the placement asked for, kept as the user gave it. */
export interface InstancePlacement {
  hostId?: string;
  group?: string;
  zone?: string;
  labels?: Record<string, string>;
  preferredLabels?: Record<string, string>;
  strategy?: 'binpack' | 'spread';
  capabilities?: string[];
}

/**
 * A container or a VM. While `hostId` is set the instance holds `claim*` on that host; the
 * claim is made and released in the same transaction that sets and clears `hostId`.
 */
@Entity('instances')
@Index('instances_project_name_live', ['projectId', 'name'], { unique: true, where: 'live' })
@Index('instances_unschedulable', ['id'], { where: 'unschedulable' })
@Index('instances_project_created', ['projectId', 'createdAt', 'id'])
// The placement snapshot counts group members and macOS guests per host every few seconds:
// these hold only those rows, so the counts do not read every instance (a million, after a big batch).
@Index('instances_grouped', ['hostId', 'placementGroupId'], { where: 'placement_group_id IS NOT NULL' })
// (No condition on state: a change of state alone stays a HOT update.)
@Index('instances_vm_guests', ['template', 'hostId'], { where: `technology = 'vm'` })
@Check('instances_claim_nonnegative', 'claim_vcpus >= 0 AND claim_memory_mib >= 0 AND claim_disk_gib >= 0')
export class InstanceEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  projectId!: string;

  @ManyToOne(() => ProjectEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'project_id' })
  project?: ProjectEntity;

  @Column({ type: 'varchar', length: 63 })
  name!: string;

  @Column({ type: 'varchar', length: 63 })
  template!: string;

  @Column({ type: 'varchar', length: 16 })
  requestedTechnology!: RequestedTechnology;

  /** Decided at placement (for `auto`, by the scheduler). */
  @Column({ type: 'varchar', length: 16, nullable: true })
  technology!: Technology | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  driver!: DriverName | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  arch!: Arch | null;

  @Index()
  @Column({ type: 'uuid', nullable: true })
  hostId!: string | null;

  @ManyToOne(() => HostEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'host_id' })
  host?: HostEntity;

  /**
   * Not indexed, nor any index's condition: a change of state alone (creating → running,
   * running → stopped) is then a HOT update, which writes no index entries. Indexes that need
   * the state use the generated flags below, which change only on entering or leaving.
   */
  @Column({ type: 'varchar', length: 16 })
  state!: InstanceState;

  /** Not deleted (derived from `state`): names are unique among live instances. */
  @Column({ type: 'boolean', generatedType: 'STORED', asExpression: `state <> 'deleted'`, insert: false, update: false, select: false })
  live?: boolean;

  /** Waiting for capacity (derived from `state`), for the rescheduler. */
  @Column({ type: 'boolean', generatedType: 'STORED', asExpression: `state = 'unschedulable'`, insert: false, update: false, select: false })
  unschedulable?: boolean;

  /** What the user wants (running, stopped, suspended, deleted). */
  @Column({ type: 'varchar', length: 16 })
  desiredState!: InstanceState;

  @Column({ type: 'text', nullable: true })
  stateReason!: string | null;

  /** Stored in milli-vCPUs (MILLI_VCPUS); a decimal here. */
  @Column({ type: 'int', transformer: MILLI_VCPUS })
  vcpus!: number;

  @Column({ type: 'int' })
  memoryMib!: number;

  @Column({ type: 'int' })
  diskGib!: number;

  /** Stored in milli-vCPUs (MILLI_VCPUS); a decimal here. */
  @Column({ type: 'int', default: 0, transformer: MILLI_VCPUS })
  claimVcpus!: number;

  @Column({ type: 'int', default: 0 })
  claimMemoryMib!: number;

  @Column({ type: 'int', default: 0 })
  claimDiskGib!: number;

  /**
   * A resize in flight holds its new size against the project's quota from the request on:
   * the quota counts GREATEST(size, reserve). Cleared (0) when the resize ends either way.
   */
  /** Stored in milli-vCPUs (MILLI_VCPUS); a decimal here. */
  @Column({ type: 'int', default: 0, transformer: MILLI_VCPUS })
  reserveVcpus!: number;

  @Column({ type: 'int', default: 0 })
  reserveMemoryMib!: number;

  @Column({ type: 'int', default: 0 })
  reserveDiskGib!: number;

  /** cpuUnits, cpuCapPercent, swapMiB, pids, ioWeight. */
  @Column({ type: 'jsonb', nullable: true })
  limits!: Record<string, number> | null;

  @Column({ type: 'jsonb', nullable: true })
  isolation!: IsolationNeeds | null;

  @Column({ type: 'jsonb', default: {} })
  placement!: InstancePlacement;

  /**
   * High availability, as in effect for the instance (its own request, else its project's
   * default when it was created): with `restart`, it is created again elsewhere when its host
   * is lost and fenced. Null: none.
   */
  @Column({ type: 'jsonb', nullable: true })
  ha!: HaPolicy | null;

  /** The placement group (placement.group resolved in the instance's project). */
  @Index()
  @Column({ type: 'uuid', nullable: true })
  placementGroupId!: string | null;

  @ManyToOne(() => PlacementGroupEntity, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'placement_group_id' })
  placementGroup?: PlacementGroupEntity;

  /** The scheduler's explanation of the last placement (or why none was possible). */
  @Column({ type: 'jsonb', nullable: true })
  placementExplanation!: Record<string, unknown> | null;

  @Column({ type: 'uuid', nullable: true })
  createdBy!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  deletedAt!: Date | null;

  @VersionColumn({ default: 1 })
  version!: number;
}
