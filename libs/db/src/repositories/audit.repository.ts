import { EntityManager } from 'typeorm';
import { Database, fromRow } from '../database';
import { AuditEntryEntity } from '../entities';
import { recordset } from '../sql';

export type NewAuditEntry = Omit<AuditEntryEntity, 'id' | 'createdAt'>;

export interface AuditFilter {
  /** null: every project (and entries of none); else these projects only. */
  projectIds: string[] | null;
  tokenId?: string;
  action?: string;
  targetPrefix?: string;
  from?: Date;
  to?: Date;
  /** Keyset: entries older than this id. */
  beforeId?: string;
  limit: number;
}

/** The audit trail: appended to, read, and pruned by age (the only DELETE the trigger allows). */
export class AuditRepository {
  constructor(private readonly db: Database) {}

  /** `em`: in the caller's transaction (a change the system made records who it was with the change). */
  async append(entries: NewAuditEntry[], em: EntityManager = this.db.manager): Promise<void> {
    if (entries.length === 0) return;
    await em.query(
      `INSERT INTO audit_entries (token_id, token_name, role, project_id, action, target, source, request_id, status)
       SELECT a."tokenId", a."tokenName", a.role, a."projectId", a.action, a.target, a.source, a."requestId", a.status
       FROM ${recordset(1, 'a', [['tokenId', 'uuid'], ['tokenName', 'text'], ['role', 'text'], ['projectId', 'uuid'], ['action', 'text'], ['target', 'text'], ['source', 'text'], ['requestId', 'text'], ['status', 'int']])}`,
      [JSON.stringify(entries)],
    );
  }

  /** Newest first. */
  async list(f: AuditFilter): Promise<AuditEntryEntity[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT * FROM audit_entries
       WHERE ($1::uuid[] IS NULL OR project_id = ANY($1::uuid[]))
         AND ($2::uuid IS NULL OR token_id = $2) AND ($3::text IS NULL OR action = $3)
         AND ($4::text IS NULL OR starts_with(target, $4))
         AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6)
         AND ($7::bigint IS NULL OR id < $7)
       ORDER BY id DESC LIMIT $8`,
      [f.projectIds, f.tokenId ?? null, f.action ?? null, f.targetPrefix ?? null, f.from ?? null, f.to ?? null, f.beforeId ?? null, f.limit],
    );
    return rows.map((r) => fromRow<AuditEntryEntity>(r));
  }

  /** Drops entries older than `days`: the one DELETE the append-only trigger lets through. */
  async prune(days: number): Promise<number> {
    return this.db.transaction(async (em) => {
      await em.query(`SET LOCAL hyperplane.audit_prune = 'on'`);
      const [, n] = await em.query<[unknown, number]>(`DELETE FROM audit_entries WHERE created_at < now() - make_interval(days => $1)`, [days]);
      return n;
    });
  }
}
