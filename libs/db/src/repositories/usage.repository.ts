import { fromMilliVcpus, toMilliVcpus } from '@hyperplane/domain';
import { EntityManager } from 'typeorm';
import { Database } from '../database';

/** What a project holds against its quota, per technology (`auto`: not placed yet). */
export interface HeldResources {
  instances: number;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** One metered interval cut to a window, with the instance's name. */
export interface UsageSlice {
  instanceId: string;
  projectId: string;
  name: string;
  technology: string;
  state: string;
  vcpus: number;
  memoryMib: number;
  diskGib: number;
  /** Seconds inside the window, to the microsecond. */
  seconds: number;
}

export const SQLSTATE_QUOTA_EXCEEDED = 'HQ001';

/** The quota check's refusal (raised by hp_quota_check, a migration), parsed. */
export interface QuotaRefusal {
  projectId: string;
  technology: 'all' | 'container' | 'vm';
  resource: 'instances' | 'vcpus' | 'memoryMiB' | 'diskGiB';
  limit: number;
  usage: number;
  requested: number;
}

/**
 * Quota usage and metered usage. Enforcement itself is in the database (triggers on
 * instances: see the quotas-usage-rates migration); this reads what they keep.
 */
export class UsageRepository {
  constructor(private readonly db: Database) {}

  /** Live instances' held resources by technology bucket (container, vm, auto). */
  async held(projectId: string): Promise<Record<string, HeldResources>> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT COALESCE(technology, requested_technology) AS bucket, count(*) AS instances,
              COALESCE(sum(GREATEST(vcpus, reserve_vcpus)), 0) AS vcpus,
              COALESCE(sum(GREATEST(memory_mib, reserve_memory_mib)), 0) AS memory,
              COALESCE(sum(GREATEST(disk_gib, reserve_disk_gib)), 0) AS disk
         FROM instances WHERE project_id = $1 AND live GROUP BY 1`,
      [projectId],
    );
    const out: Record<string, HeldResources> = {};
    for (const r of rows) out[String(r.bucket)] = { instances: Number(r.instances), vcpus: fromMilliVcpus(Number(r.vcpus)), memoryMiB: Number(r.memory), diskGiB: Number(r.disk) };
    return out;
  }

  /** A resize holds max(old, new) from its request until its operation ends (the trigger checks the growth). */
  async reserve(em: EntityManager, instanceId: string, size: { vcpus: number; memoryMiB: number; diskGiB: number }): Promise<void> {
    await em.query('UPDATE instances SET reserve_vcpus = $2, reserve_memory_mib = $3, reserve_disk_gib = $4 WHERE id = $1', [instanceId, toMilliVcpus(size.vcpus), size.memoryMiB, size.diskGiB]);
  }

  /** Metered intervals overlapping [from, to), cut to it; open intervals run to now (or `to`). */
  async slices(projectIds: string[] | null, from: Date, to: Date): Promise<UsageSlice[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT u.instance_id, u.project_id, i.name, u.technology, u.state, u.vcpus, u.memory_mib, u.disk_gib,
              EXTRACT(EPOCH FROM LEAST(COALESCE(u.ended_at, now()), $3) - GREATEST(u.started_at, $2))::float8 AS seconds
         FROM usage_intervals u JOIN instances i ON i.id = u.instance_id
        WHERE ($1::uuid[] IS NULL OR u.project_id = ANY($1::uuid[])) AND u.started_at < $3 AND COALESCE(u.ended_at, 'infinity') > $2
          AND LEAST(COALESCE(u.ended_at, now()), $3) > GREATEST(u.started_at, $2)
        ORDER BY u.project_id, u.instance_id, u.started_at`,
      [projectIds, from, to],
    );
    return rows.map((r) => ({
      instanceId: String(r.instance_id),
      projectId: String(r.project_id),
      name: String(r.name),
      technology: String(r.technology),
      state: String(r.state),
      vcpus: fromMilliVcpus(Number(r.vcpus)),
      memoryMib: Number(r.memory_mib),
      diskGib: Number(r.disk_gib),
      seconds: Number(r.seconds),
    }));
  }
}

export function parseQuotaRefusal(detail: string | undefined): QuotaRefusal | null {
  if (!detail) return null;
  try {
    return JSON.parse(detail) as QuotaRefusal;
  } catch {
    return null;
  }
}
