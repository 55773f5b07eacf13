import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Database } from '../database';
import { ProjectEntity } from '../entities';

/** NOTIFYed by a trigger at every change of a project's placement policy (see the policy-notify migration). */
export const POLICY_CHANNEL = 'hp_policy';

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

  /** null: no quota. Lowering a quota below usage is allowed: it only stops further growth. */
  async setQuota(id: string, quota: Record<string, unknown> | null): Promise<void> {
    await this.db.manager.query('UPDATE projects SET quota = $2 WHERE id = $1', [id, quota === null ? null : JSON.stringify(quota)]);
  }

  async insert(row: Partial<ProjectEntity>): Promise<void> {
    await this.db.manager.insert(ProjectEntity, row as QueryDeepPartialEntity<ProjectEntity>);
  }
}
