import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { EntityManager, IsNull } from 'typeorm';
import { Database } from '../database';
import { ApiTokenEntity, EnrollmentTokenEntity } from '../entities';

/** API tokens and enrollment tokens; both are looked up by the SHA-256 of their secret. */
export class TokenRepository {
  constructor(private readonly db: Database) {}

  findApiToken(secretHash: string): Promise<ApiTokenEntity | null> {
    return this.db.manager.findOneBy(ApiTokenEntity, { secretHash });
  }

  async insertApiToken(row: Partial<ApiTokenEntity>, em: EntityManager = this.db.manager): Promise<void> {
    await em.insert(ApiTokenEntity, row as QueryDeepPartialEntity<ApiTokenEntity>);
  }

  listApiTokens(): Promise<ApiTokenEntity[]> {
    return this.db.manager.find(ApiTokenEntity, { order: { createdAt: 'ASC' } });
  }

  async revokeApiToken(id: string): Promise<boolean> {
    const res = await this.db.manager.update(ApiTokenEntity, { id, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (res.affected ?? 0) > 0;
  }

  getApiToken(id: string): Promise<ApiTokenEntity | null> {
    return this.db.manager.findOneBy(ApiTokenEntity, { id });
  }

  async countAdmins(): Promise<number> {
    return this.db.manager.countBy(ApiTokenEntity, { role: 'admin', revokedAt: IsNull() });
  }

  async insertEnrollmentToken(row: Partial<EnrollmentTokenEntity>): Promise<void> {
    await this.db.manager.insert(EnrollmentTokenEntity, row);
  }

  listEnrollmentTokens(): Promise<EnrollmentTokenEntity[]> {
    return this.db.manager.find(EnrollmentTokenEntity, { order: { createdAt: 'ASC' } });
  }

  findEnrollmentToken(secretHash: string): Promise<EnrollmentTokenEntity | null> {
    return this.db.manager.findOneBy(EnrollmentTokenEntity, { secretHash });
  }

  /** Counts `hosts` enrollments against the token's limit; false when the token cannot take them. */
  async useEnrollmentToken(em: EntityManager, id: string, hosts: number): Promise<boolean> {
    const res = await em.query<[unknown, number]>(
      `UPDATE enrollment_tokens SET hosts_enrolled = hosts_enrolled + $2
       WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
         AND (max_hosts IS NULL OR hosts_enrolled + $2 <= max_hosts)`,
      [id, hosts],
    );
    return res[1] === 1;
  }

  async revokeEnrollmentToken(id: string): Promise<boolean> {
    const res = await this.db.manager.update(EnrollmentTokenEntity, { id, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (res.affected ?? 0) > 0;
  }
}
