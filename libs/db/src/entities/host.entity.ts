import { Arch, DriverProbe, HostStatus, OsFamily } from '@hyperplane/domain';
import { MILLI_VCPUS } from './milli-vcpus';
import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';
import { AgentEntity } from './agent.entity';

/**
 * A machine an agent runs on (or a simulated one). `alloc*` always equals the sum of the
 * claims of the instances placed on it: claims and releases happen in the same transaction
 * as the instance change, through guarded UPDATEs (see HostRepository).
 */
@Entity('hosts')
// The drain-deadline watcher reads the hosts with a deadline not yet acted on, every second.
@Index('hosts_drain_due', ['drainDeadline'], { where: 'drain_deadline IS NOT NULL AND drain_deadline_reached_at IS NULL' })
@Check('hosts_alloc_nonnegative', 'alloc_vcpus >= 0 AND alloc_memory_mib >= 0 AND alloc_disk_gib >= 0 AND alloc_instances >= 0')
export class HostEntity {
  @PrimaryColumn('uuid')
  id!: string;

  /** Unique in the fleet: a second host enrolling with a taken name is refused (an admin may rename). */
  @Index('hosts_name_unique', { unique: true })
  @Column({ type: 'varchar', length: 253 })
  name!: string;

  /** The enrollment (credential, Redis user) the host belongs to; its queues are named after it. */
  @ManyToOne(() => AgentEntity, { onDelete: 'RESTRICT' })
  @JoinColumn({ name: 'agent_id' })
  agent?: AgentEntity;

  @Index()
  @Column({ type: 'uuid' })
  agentId!: string;

  @Index()
  @Column({ type: 'varchar', length: 16 })
  status!: HostStatus;

  /** Why the host is in its status, e.g. "no heartbeat for 31 s". */
  @Column({ type: 'text', nullable: true })
  statusReason!: string | null;

  @Column({ type: 'varchar', length: 16 })
  os!: OsFamily;

  @Column({ type: 'varchar', length: 100 })
  osVersion!: string;

  @Column({ type: 'varchar', length: 100 })
  kernel!: string;

  @Column({ type: 'varchar', length: 16 })
  arch!: Arch;

  @Column({ type: 'boolean', default: false })
  simulated!: boolean;

  @Column({ type: 'jsonb', default: {} })
  labels!: Record<string, string>;

  @Column({ type: 'varchar', length: 63, nullable: true })
  zone!: string | null;

  /** Stored in milli-vCPUs (MILLI_VCPUS); a decimal here. */
  @Column({ type: 'int', transformer: MILLI_VCPUS })
  capVcpus!: number;

  @Column({ type: 'int' })
  capMemoryMib!: number;

  @Column({ type: 'int' })
  capDiskGib!: number;

  /** The host's own density cap; 0 = the policy's. */
  @Column({ type: 'int', default: 0 })
  capInstances!: number;

  /** Stored in milli-vCPUs (MILLI_VCPUS); a decimal here. */
  @Column({ type: 'int', default: 0, transformer: MILLI_VCPUS })
  allocVcpus!: number;

  @Column({ type: 'int', default: 0 })
  allocMemoryMib!: number;

  @Column({ type: 'int', default: 0 })
  allocDiskGib!: number;

  @Column({ type: 'int', default: 0 })
  allocInstances!: number;

  /** Creates that failed here since the last one that succeeded (the scheduler ranks such a host last). */
  @Column({ type: 'int', default: 0 })
  createFailures!: number;

  /**
   * Draining with a deadline: when it passes and instances remain, the controller evacuates
   * the host (apps/controller/src/hosts/drain-deadline.watcher.ts). Activate and maintenance clear it.
   */
  @Column({ type: 'timestamptz', nullable: true })
  drainDeadline!: Date | null;

  /** When the controller acted on the deadline (set once per deadline, in the transaction that acted). */
  @Column({ type: 'timestamptz', nullable: true })
  drainDeadlineReachedAt!: Date | null;

  /** The evacuate operation the deadline started (or found under way); null when nothing was left to move. */
  @Column({ type: 'uuid', nullable: true })
  drainEvacuationId!: string | null;

  @Column({ type: 'jsonb', default: [] })
  drivers!: DriverProbe[];

  /** Templates cached on the host (for locality). */
  @Column({ type: 'jsonb', default: [] })
  templates!: string[];

  @Column({ type: 'uuid', nullable: true })
  enrollmentTokenId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  agentVersion!: string | null;

  @Column({ type: 'timestamptz', nullable: true })
  lastHeartbeatAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;

  @VersionColumn({ default: 1 })
  version!: number;
}
