import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { InstanceEntity } from './instance.entity';

/** A snapshot a driver took of an instance, recorded when its operation succeeded. */
@Entity('instance_snapshots')
@Index('instance_snapshots_name', ['instanceId', 'name'], { unique: true })
export class InstanceSnapshotEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'uuid' })
  instanceId!: string;

  @ManyToOne(() => InstanceEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'instance_id' })
  instance?: InstanceEntity;

  @Column({ type: 'varchar', length: 63 })
  name!: string;

  /** The operation that took it. */
  @Column({ type: 'uuid', nullable: true })
  operationId!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
