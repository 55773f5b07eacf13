import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One enrollment of an agent: the credential its hosts share, and its own Redis user (when
 * the deployment uses per-agent Redis ACLs). Only SHA-256 hashes of the secrets are kept;
 * Redis accepts a password given by its SHA-256 (`#<hash>`), so the user can be made again
 * (after a Redis restart) without knowing the password.
 */
@Entity('agents')
export class AgentEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Index({ unique: true })
  @Column({ type: 'char', length: 64 })
  credentialHash!: string;

  /** The agent's Redis user; null when agents share the API's Redis credential. */
  @Column({ type: 'varchar', length: 128, nullable: true })
  redisUser!: string | null;

  @Column({ type: 'char', length: 64, nullable: true })
  redisPasswordHash!: string | null;

  @Column({ type: 'uuid', nullable: true })
  enrollmentTokenId!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  rotatedAt!: Date | null;
}
