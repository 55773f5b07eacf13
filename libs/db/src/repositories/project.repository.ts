import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Database } from '../database';
import { ProjectEntity } from '../entities';

export class ProjectRepository {
  constructor(private readonly db: Database) {}

  get(id: string): Promise<ProjectEntity | null> {
    return this.db.manager.findOneBy(ProjectEntity, { id });
  }

  findByName(name: string): Promise<ProjectEntity | null> {
    return this.db.manager.findOneBy(ProjectEntity, { name });
  }

  list(): Promise<ProjectEntity[]> {
    return this.db.manager.find(ProjectEntity, { order: { name: 'ASC' } });
  }

  async setPolicy(id: string, policy: Record<string, unknown>): Promise<void> {
    await this.db.manager.query('UPDATE projects SET policy = $2 WHERE id = $1', [id, JSON.stringify(policy)]);
  }

  async insert(row: Partial<ProjectEntity>): Promise<void> {
    await this.db.manager.insert(ProjectEntity, row as QueryDeepPartialEntity<ProjectEntity>);
  }
}
