import { EntityManager } from 'typeorm';
import { Database } from '../database';
import { AgentEntity } from '../entities';

export interface NewAgent {
  id: string;
  credentialHash: string;
  redisUser: string | null;
  redisPasswordHash: string | null;
  enrollmentTokenId: string | null;
}

/** Agents: one row per enrollment, holding the credential its hosts share and its Redis user. */
export class AgentRepository {
  constructor(private readonly db: Database) {}

  async insert(em: EntityManager, agent: NewAgent): Promise<void> {
    await em.insert(AgentEntity, agent);
  }

  get(id: string, em: EntityManager = this.db.manager): Promise<AgentEntity | null> {
    return em.findOneBy(AgentEntity, { id });
  }

  findByCredentialHash(hash: string): Promise<AgentEntity | null> {
    return this.db.manager.findOneBy(AgentEntity, { credentialHash: hash });
  }

  /** Every agent id (controllers consume each agent's results queue). */
  async ids(): Promise<string[]> {
    const rows = await this.db.manager.query<{ id: string }[]>('SELECT id FROM agents');
    return rows.map((r) => r.id);
  }

  /** Agents with a Redis user, to make the users again after Redis lost them. */
  async withRedisUsers(): Promise<{ id: string; redisPasswordHash: string }[]> {
    const rows = await this.db.manager.query<{ id: string; redis_password_hash: string }[]>(
      'SELECT id, redis_password_hash FROM agents WHERE redis_user IS NOT NULL AND redis_password_hash IS NOT NULL',
    );
    return rows.map((r) => ({ id: r.id, redisPasswordHash: r.redis_password_hash }));
  }

  /**
   * Replaces the agent's secrets, guarded by the credential it presented: of two rotations
   * with the same old credential only one wins. False when the old credential no longer holds.
   */
  async rotate(id: string, oldCredentialHash: string, next: { credentialHash: string; redisUser: string | null; redisPasswordHash: string | null }): Promise<boolean> {
    const res = await this.db.manager.query<[unknown[], number]>(
      'UPDATE agents SET credential_hash = $3, redis_user = $4, redis_password_hash = $5, rotated_at = now() WHERE id = $1 AND credential_hash = $2 RETURNING id',
      [id, oldCredentialHash, next.credentialHash, next.redisUser, next.redisPasswordHash],
    );
    return res[1] === 1;
  }
}
