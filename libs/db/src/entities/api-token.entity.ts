import { ProjectEntity } from './project.entity';
import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Role } from '@hyperplane/domain';

/** A bearer token for the API. Only a SHA-256 of the secret is kept. */
@Entity('api_tokens')
export class ApiTokenEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Index({ unique: true })
  @Column({ type: 'char', length: 64 })
  secretHash!: string;

  /** The first characters of the secret, to recognise it in a list. */
  @Column({ type: 'varchar', length: 16 })
  prefix!: string;

  @Column({ type: 'varchar', length: 16 })
  role!: Role;

  /** null: every project (fleet-wide). */
  @Column({ type: 'uuid', nullable: true })
  projectId!: string | null;

  @ManyToOne(() => ProjectEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'project_id' })
  project?: ProjectEntity;

  /** Who minted it (null: made at start from the configuration). */
  @Column({ type: 'uuid', nullable: true })
  createdBy!: string | null;

  /** The admin token made at start (HYPERPLANE_ADMIN_TOKEN or a printed one): a new configured value revokes it. */
  @Column({ type: 'boolean', default: false })
  bootstrap!: boolean;

  /** Requests per minute for this token (null: the project's, else the configured default). */
  @Column({ type: 'int', nullable: true })
  rateLimitPerMinute!: number | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
