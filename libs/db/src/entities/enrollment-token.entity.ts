import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** Lets agents join the fleet. Made by an admin; only a SHA-256 of the secret is kept. */
@Entity('enrollment_tokens')
export class EnrollmentTokenEntity {
  @PrimaryColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Index({ unique: true })
  @Column({ type: 'char', length: 64 })
  secretHash!: string;

  /** How many hosts may enroll with it (null: no limit). */
  @Column({ type: 'int', nullable: true })
  maxHosts!: number | null;

  @Column({ type: 'int', default: 0 })
  hostsEnrolled!: number;

  @Column({ type: 'uuid', nullable: true })
  createdBy!: string | null;

  /** Made at start from HYPERPLANE_ENROLLMENT_TOKEN: a new configured value revokes it. */
  @Column({ type: 'boolean', default: false })
  bootstrap!: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
