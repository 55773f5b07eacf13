import { Arch, DriverName, OsFamily, Technology } from '@hyperplane/domain';
import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** What can be created. The built-in catalogue is upserted at start; users may add their own. */
@Entity('templates')
export class TemplateEntity {
  @PrimaryColumn({ type: 'varchar', length: 63 })
  name!: string;

  @Column({ type: 'text', default: '' })
  description!: string;

  @Column({ type: 'varchar', length: 16 })
  osFamily!: OsFamily;

  @Column({ type: 'varchar', length: 63 })
  distribution!: string;

  @Column({ type: 'varchar', length: 32 })
  version!: string;

  @Column({ type: 'jsonb' })
  archs!: Arch[];

  @Column({ type: 'jsonb' })
  technologies!: Technology[];

  @Column({ type: 'varchar', length: 32, nullable: true })
  minKernel!: string | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  windowsBuild!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  drivers!: DriverName[] | null;

  @Column({ type: 'jsonb', nullable: true })
  image!: Record<string, unknown> | null;

  @Column({ type: 'boolean', default: false })
  builtin!: boolean;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
