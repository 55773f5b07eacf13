import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { EntityManager, IsNull, Not } from 'typeorm';
import { Database } from '../database';
import { ApiTokenEntity, EnrollmentTokenEntity } from '../entities';

/** NOTIFYed (by a trigger) when api_tokens change, so every API process drops its auth cache. */
export const TOKENS_CHANNEL = 'hp_tokens';

/** Tokens minted from one token on, transitively (admins mint admins); UNION stops at cycles. */
const LINEAGE = `WITH RECURSIVE lineage(id) AS (
    SELECT id FROM api_tokens WHERE id = $1
    UNION SELECT t.id FROM api_tokens t JOIN lineage l ON t.created_by = l.id)`;

export interface TokenListFilter {
  /** Only live tokens whose maker is revoked: what a revoked admin left behind. */
  createdByRevoked?: boolean;
}

/** API tokens and enrollment tokens; both are looked up by the SHA-256 of their secret. */
export class TokenRepository {
  constructor(private readonly db: Database) {}

  findApiToken(secretHash: string): Promise<ApiTokenEntity | null> {
    return this.db.manager.findOneBy(ApiTokenEntity, { secretHash });
  }

  async insertApiToken(row: Partial<ApiTokenEntity>, em: EntityManager = this.db.manager): Promise<void> {
    await em.insert(ApiTokenEntity, row as QueryDeepPartialEntity<ApiTokenEntity>);
  }

  listApiTokens(filter: TokenListFilter = {}): Promise<ApiTokenEntity[]> {
    const q = this.db.manager.createQueryBuilder(ApiTokenEntity, 't').orderBy('t.createdAt', 'ASC');
    if (filter.createdByRevoked) {
      q.where('t.revokedAt IS NULL').andWhere('EXISTS (SELECT 1 FROM api_tokens m WHERE m.id = t.created_by AND m.revoked_at IS NOT NULL)');
    }
    return q.getMany();
  }

  /** The ids of `id` and of every token minted from it, transitively. */
  async lineage(id: string): Promise<string[]> {
    const rows = await this.db.manager.query<{ id: string }[]>(`${LINEAGE} SELECT id FROM lineage`, [id]);
    return rows.map((r) => r.id);
  }

  /**
   * Revokes a token, every API token minted from it (transitively) and every enrollment token
   * any of them made, in one transaction. Returns what was live and is now revoked.
   */
  async revokeApiTokenCascade(id: string): Promise<{ tokens: string[]; enrollmentTokens: string[] }> {
    return this.db.transaction(async (em) => {
      // An UPDATE through query() answers [rows, affected].
      const tokens = await em.query<[{ id: string }[], number]>(
        `${LINEAGE} UPDATE api_tokens SET revoked_at = now() WHERE id IN (SELECT id FROM lineage) AND revoked_at IS NULL RETURNING id`,
        [id],
      );
      const enrollment = await em.query<[{ id: string }[], number]>(
        `${LINEAGE} UPDATE enrollment_tokens SET revoked_at = now() WHERE created_by IN (SELECT id FROM lineage) AND revoked_at IS NULL RETURNING id`,
        [id],
      );
      return { tokens: tokens[0].map((r) => r.id), enrollmentTokens: enrollment[0].map((r) => r.id) };
    });
  }

  /**
   * Adds the configured bootstrap admin token and revokes the bootstrap tokens it replaces, at
   * once: the old value stops working as the new one starts.
   */
  async replaceBootstrapAdmin(row: Partial<ApiTokenEntity>): Promise<number> {
    return this.db.transaction(async (em) => {
      await em.insert(ApiTokenEntity, { ...row, bootstrap: true } as QueryDeepPartialEntity<ApiTokenEntity>);
      const res = await em.update(ApiTokenEntity, { bootstrap: true, revokedAt: IsNull(), id: Not(row.id!) }, { revokedAt: new Date() });
      return res.affected ?? 0;
    });
  }

  /** The same for the enrollment token configured on the API (HYPERPLANE_ENROLLMENT_TOKEN). */
  async replaceBootstrapEnrollment(row: Partial<EnrollmentTokenEntity>): Promise<number> {
    return this.db.transaction(async (em) => {
      await em.insert(EnrollmentTokenEntity, { ...row, bootstrap: true });
      const res = await em.update(EnrollmentTokenEntity, { bootstrap: true, revokedAt: IsNull(), id: Not(row.id!) }, { revokedAt: new Date() });
      return res.affected ?? 0;
    });
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

  listEnrollmentTokens(filter: TokenListFilter = {}): Promise<EnrollmentTokenEntity[]> {
    const q = this.db.manager.createQueryBuilder(EnrollmentTokenEntity, 't').orderBy('t.createdAt', 'ASC');
    if (filter.createdByRevoked) {
      q.where('t.revokedAt IS NULL').andWhere('EXISTS (SELECT 1 FROM api_tokens m WHERE m.id = t.created_by AND m.revoked_at IS NOT NULL)');
    }
    return q.getMany();
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
