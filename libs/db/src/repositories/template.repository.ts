import { TemplateSpec } from '@hyperplane/domain';
import { Database } from '../database';
import { TemplateEntity } from '../entities';

export function toTemplateSpec(t: TemplateEntity): TemplateSpec {
  return {
    name: t.name,
    description: t.description,
    osFamily: t.osFamily,
    distribution: t.distribution,
    version: t.version,
    archs: t.archs,
    technologies: t.technologies,
    ...(t.minKernel ? { minKernel: t.minKernel } : {}),
    ...(t.windowsBuild ? { windowsBuild: t.windowsBuild } : {}),
    ...(t.drivers ? { drivers: t.drivers } : {}),
    ...(t.image ? { image: t.image } : {}),
  };
}

export class TemplateRepository {
  constructor(private readonly db: Database) {}

  list(): Promise<TemplateEntity[]> {
    return this.db.manager.find(TemplateEntity, { order: { name: 'ASC' } });
  }

  get(name: string): Promise<TemplateEntity | null> {
    return this.db.manager.findOneBy(TemplateEntity, { name });
  }

  /** Writes the built-in catalogue; user templates of the same name are left alone. */
  async upsertBuiltins(templates: TemplateSpec[]): Promise<void> {
    for (const t of templates) {
      await this.db.manager.query(
        `INSERT INTO templates (name, description, os_family, distribution, version, archs, technologies, min_kernel, windows_build, drivers, image, builtin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true)
         ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, os_family = EXCLUDED.os_family,
           distribution = EXCLUDED.distribution, version = EXCLUDED.version, archs = EXCLUDED.archs,
           technologies = EXCLUDED.technologies, min_kernel = EXCLUDED.min_kernel, windows_build = EXCLUDED.windows_build,
           drivers = EXCLUDED.drivers, image = EXCLUDED.image
         WHERE templates.builtin`,
        [
          t.name,
          t.description ?? '',
          t.osFamily,
          t.distribution,
          t.version,
          JSON.stringify(t.archs),
          JSON.stringify(t.technologies),
          t.minKernel ?? null,
          t.windowsBuild ?? null,
          t.drivers ? JSON.stringify(t.drivers) : null,
          t.image ? JSON.stringify(t.image) : null,
        ],
      );
    }
  }
}
