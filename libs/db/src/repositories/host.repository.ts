import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Capacity, fromMilliVcpus, HostInventory, HostStatus, Resources, Technology, toMilliVcpus } from '@hyperplane/domain';
import { EntityManager } from 'typeorm';
import { Database, fromRow, pgErrorCode, withCommit } from '../database';
import { HostEntity } from '../entities';
import { EventRepository, NewEvent } from './event.repository';

export interface NewHost {
  id: string;
  name: string;
  inventory: HostInventory;
  agentId: string;
  enrollmentTokenId: string | null;
}

/** The unique index on host names: a violation of it is a taken name, not a failure. */
export const HOST_NAME_INDEX = 'hosts_name_unique';

/** Allocation ratios and reserve for one claim; the same numbers the scheduler used. */
export interface ClaimLimits {
  ratios: Resources;
  reserved: Resources;
  maxInstancesPerHost: number;
}

export interface HostClaim {
  hostId: string;
  technology: Technology;
  claim: Resources;
  /** Instances the claim adds (1 for one create; N for a batch on one host). */
  instances: number;
}

function inventoryColumns(inv: HostInventory): Partial<HostEntity> {
  return {
    os: inv.os,
    osVersion: inv.osVersion.slice(0, 100),
    kernel: inv.kernel.slice(0, 100),
    arch: inv.arch,
    simulated: inv.simulated ?? false,
    labels: inv.labels ?? {},
    zone: inv.zone ?? null,
    capVcpus: inv.cpus,
    capMemoryMib: inv.memoryMiB,
    capDiskGib: inv.diskGiB,
    drivers: inv.drivers,
    agentVersion: inv.agentVersion ?? null,
  };
}

/** NOTIFYed when hosts change status. */
export const HOSTS_CHANNEL = 'hp_hosts';

export class HostRepository {
  constructor(
    private readonly db: Database,
    private readonly events: EventRepository,
  ) {}

  async insertMany(hosts: NewHost[], em: EntityManager): Promise<void> {
    const rows = hosts.map((h) => ({
      id: h.id,
      name: h.name,
      status: 'enrolling' as const,
      statusReason: 'waiting for the first heartbeat',
      agentId: h.agentId,
      enrollmentTokenId: h.enrollmentTokenId,
      templates: [],
      ...inventoryColumns(h.inventory),
    }));
    for (let i = 0; i < rows.length; i += 500) {
      await em.createQueryBuilder().insert().into(HostEntity).values(rows.slice(i, i + 500) as QueryDeepPartialEntity<HostEntity>[]).execute();
    }
    // Controllers start consuming a new agent's results queue.
    await em.query(`SELECT pg_notify('${HOSTS_CHANNEL}', '')`);
    await this.events.append(
      em,
      hosts.map((h) => ({ type: 'host.enrolled', subjectType: 'host', subjectId: h.id, projectId: null, data: { name: h.name, os: h.inventory.os, status: 'enrolling' } })),
    );
  }

  async updateInventory(id: string, inventory: HostInventory): Promise<void> {
    await this.db.manager
      .createQueryBuilder()
      .update(HostEntity)
      .set({ ...inventoryColumns(inventory), version: () => 'version + 1' })
      .where('id = :id', { id })
      .execute();
  }

  get(id: string): Promise<HostEntity | null> {
    return this.db.manager.findOneBy(HostEntity, { id });
  }

  /** Hosts that already have one of these names (a name is unique in the fleet). */
  async withNames(names: string[]): Promise<Pick<HostEntity, 'id' | 'name'>[]> {
    if (names.length === 0) return [];
    return this.db.manager.query<{ id: string; name: string }[]>('SELECT id, name FROM hosts WHERE name = ANY($1::text[]) ORDER BY name', [[...new Set(names)]]);
  }

  /** Host id → its agent's id, for the hosts that exist. */
  async agentIdsOf(hostIds: string[]): Promise<Map<string, string>> {
    if (hostIds.length === 0) return new Map();
    const rows = await this.db.manager.query<{ id: string; agent_id: string }[]>('SELECT id, agent_id FROM hosts WHERE id = ANY($1::uuid[])', [[...new Set(hostIds)]]);
    return new Map(rows.map((r) => [r.id, r.agent_id]));
  }

  /** Renames a host; null when it does not exist. A taken name fails on HOST_NAME_INDEX. */
  async rename(id: string, name: string): Promise<HostEntity | null> {
    return this.db.transaction(async (em) => {
      const rows = await em.query<[Record<string, unknown>[], number]>(
        'UPDATE hosts SET name = $2, version = version + 1, updated_at = now() WHERE id = $1 RETURNING *',
        [id, name],
      );
      const row = rows[0][0];
      if (!row) return null;
      const host = fromRow<HostEntity>(row);
      await this.events.append(em, [{ type: 'host.renamed', subjectType: 'host', subjectId: id, projectId: null, data: { name } }]);
      return host;
    });
  }

  /** The host locked for removal, with how many instances are on it; null if unknown. */
  async lockForRemoval(em: EntityManager, id: string): Promise<{ host: HostEntity; instances: number } | null> {
    const locked = await em.query<Record<string, unknown>[]>('SELECT * FROM hosts WHERE id = $1 FOR UPDATE', [id]);
    if (!locked[0]) return null;
    const counted = await em.query<{ n: number }[]>('SELECT count(*)::int AS n FROM instances WHERE host_id = $1', [id]);
    return { host: fromRow<HostEntity>(locked[0]), instances: counted[0]?.n ?? 0 };
  }

  /**
   * Removes a host that no instance is on any more, and its agent when it was the agent's last
   * host (returned, so that its Redis user can go too).
   */
  async remove(em: EntityManager, host: HostEntity, evicted: number): Promise<{ agentRemoved: { id: string; redisUser: string | null } | null }> {
    await em.query('DELETE FROM hosts WHERE id = $1', [host.id]);
    await em.query(`SELECT pg_notify('${HOSTS_CHANNEL}', '')`);
    await this.events.append(em, [{ type: 'host.removed', subjectType: 'host', subjectId: host.id, projectId: null, data: { name: host.name, instances: evicted } }]);
    const rows = await em.query<[Record<string, unknown>[], number]>(
      'DELETE FROM agents a WHERE a.id = $1 AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.agent_id = a.id) RETURNING id, redis_user',
      [host.agentId],
    );
    const agent = rows[0][0];
    return { agentRemoved: agent ? { id: String(agent.id), redisUser: (agent.redis_user as string | null) ?? null } : null };
  }

  async list(filter: { status?: HostStatus; os?: string; afterName?: { name: string; id: string }; limit: number }): Promise<HostEntity[]> {
    const qb = this.db.manager.createQueryBuilder(HostEntity, 'h').orderBy('h.name', 'ASC').addOrderBy('h.id', 'ASC').limit(filter.limit);
    if (filter.status) qb.andWhere('h.status = :status', { status: filter.status });
    if (filter.os) qb.andWhere('h.os = :os', { os: filter.os });
    if (filter.afterName) qb.andWhere('(h.name, h.id) > (:name, :id)', filter.afterName);
    return qb.getMany();
  }

  /**
   * The fleet as the scheduler sees it: every host, whatever its status — the status filter
   * refuses those not ready and the explanation counts them ("1 is not ready (draining)").
   * Plain SQL: the ORM took 1.5–2× as long for 10,000 hosts (up to a second here).
   */
  async schedulable(): Promise<HostEntity[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>('SELECT * FROM hosts');
    return rows.map((r) => fromRow<HostEntity>(r));
  }

  /** Hosts enrolled since `since` that have not beaten yet (placement may wait for them). */
  enrollingSince(since: Date): Promise<HostEntity[]> {
    return this.db.manager.createQueryBuilder(HostEntity, 'h').where("h.status = 'enrolling'").andWhere('h.created_at >= :since', { since }).getMany();
  }

  /** How many hosts have each status (for metrics). */
  async countByStatus(): Promise<Map<string, number>> {
    const rows = await this.db.manager.query<{ status: string; n: number }[]>('SELECT status, count(*)::int AS n FROM hosts GROUP BY status');
    return new Map(rows.map((r) => [r.status, r.n]));
  }

  /** What the heartbeat watcher needs of every host, without the inventories. */
  async liveness(): Promise<Pick<HostEntity, 'id' | 'name' | 'agentId' | 'status' | 'lastHeartbeatAt' | 'createdAt'>[]> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>('SELECT id, name, agent_id, status, last_heartbeat_at, created_at FROM hosts');
    return rows.map((r) => fromRow(r));
  }

  /**
   * Claims capacity in one guarded UPDATE: it succeeds only while the host is ready and every
   * resource stays within floor(capacity × ratio) − reserved (the scheduler's usableCapacity).
   * Two controllers claiming at once are serialised by the row lock, so a host is never
   * overcommitted. Returns false when the claim does not fit any more.
   */
  async claim(em: EntityManager, c: HostClaim, limits: ClaimLimits): Promise<boolean> {
    return (await this.claimMany(em, [{ ...c, limits }])).has(c.hostId);
  }

  /**
   * Many claims at once, each guarded as claim() guards one, in one UPDATE (a batch's chunk
   * claims hundreds of hosts). The hosts are locked in id order first, as every multi-host
   * writer locks them, so two such transactions never deadlock. A host may appear only once.
   * Returns the hosts whose claims were granted.
   */
  async claimMany(em: EntityManager, claims: (HostClaim & { limits: ClaimLimits })[]): Promise<Set<string>> {
    if (claims.length === 0) return new Set();
    const ids = claims.map((c) => c.hostId);
    if (new Set(ids).size !== ids.length) throw new Error('claimMany: a host may appear only once');
    if (claims.length > 1) await em.query('SELECT id FROM hosts WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE', [ids]);
    const { sql, params } = claimStatement(claims);
    const rows = await em.query<[{ id: string }[], number]>(`${sql} RETURNING h.id`, params);
    return new Set(rows[0].map((r) => r.id));
  }

  /**
   * claim(), sent with the caller's COMMIT (Database's withCommit): the host's row is locked
   * only while PostgreSQL claims and commits. A claim that no longer fits raises
   * SQLSTATE_CLAIM_REFUSED from the commit, and the transaction rolls back
   * (isClaimRefused tells). Outside a transaction it claims at once, refusing the same way.
   */
  async claimAtCommit(em: EntityManager, c: HostClaim, limits: ClaimLimits): Promise<void> {
    const { sql, params } = claimStatement([{ ...c, limits }]);
    const statement = `WITH granted AS (${sql} RETURNING h.id)
      SELECT hp_require(count(*) = 1, '${SQLSTATE_CLAIM_REFUSED}', 'the claim no longer fits host ' || $13) FROM granted`;
    const all = [...params, c.hostId];
    if (!withCommit(em, statement, all)) await em.query(statement, all);
  }

  /** Gives back what an instance held; in the same transaction that clears its hostId. */
  /** A create failed on the host: it ranks last for new instances until one succeeds there. */
  async noteCreateFailure(em: EntityManager, hostId: string): Promise<void> {
    await em.query('UPDATE hosts SET create_failures = create_failures + 1 WHERE id = $1', [hostId]);
  }

  /** Creates succeeded on these hosts: their failure counts start again (rows already at 0 are not written). */
  async clearCreateFailures(em: EntityManager, hostIds: string[]): Promise<void> {
    if (hostIds.length === 0) return;
    await em.query('UPDATE hosts SET create_failures = 0 WHERE id = ANY($1::uuid[]) AND create_failures > 0', [[...new Set(hostIds)]]);
  }

  async release(em: EntityManager, hostId: string, claim: Resources, instances = 1): Promise<void> {
    await em.query(
      `UPDATE hosts SET alloc_vcpus = alloc_vcpus - $2, alloc_memory_mib = alloc_memory_mib - $3,
         alloc_disk_gib = alloc_disk_gib - $4, alloc_instances = alloc_instances - $5, version = version + 1
       WHERE id = $1`,
      [hostId, toMilliVcpus(claim.vcpus), claim.memoryMiB, claim.diskGiB, instances],
    );
  }

  /**
   * What many instances held, given back to their hosts in one statement (destroys applied in
   * bulk): summed per host, hosts locked in id order. `milliVcpus` as instances store their claim.
   * Sent with the caller's COMMIT (Database's withCommit): hosts being emptied are the rows that
   * concurrent result batches and heartbeats all want, so they stay locked for no round trip.
   */
  async releaseMany(em: EntityManager, held: { hostId: string | null; milliVcpus: number; memoryMiB: number; diskGiB: number }[]): Promise<void> {
    const sums = new Map<string, { cv: number; cm: number; cd: number; n: number }>();
    for (const h of held) {
      if (!h.hostId) continue;
      const s = sums.get(h.hostId) ?? { cv: 0, cm: 0, cd: 0, n: 0 };
      s.cv += h.milliVcpus;
      s.cm += h.memoryMiB;
      s.cd += h.diskGiB;
      s.n += 1;
      sums.set(h.hostId, s);
    }
    if (sums.size === 0) return;
    const ids = [...sums.keys()].sort();
    const col = (f: (s: { cv: number; cm: number; cd: number; n: number }) => number): number[] => ids.map((id) => f(sums.get(id)!));
    const sql = `WITH locked AS (SELECT id FROM hosts WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE)
       UPDATE hosts h SET alloc_vcpus = alloc_vcpus - r.cv, alloc_memory_mib = alloc_memory_mib - r.cm,
         alloc_disk_gib = alloc_disk_gib - r.cd, alloc_instances = alloc_instances - r.n, version = version + 1
       FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[], $5::int[]) AS r(id, cv, cm, cd, n), locked l
       WHERE h.id = r.id AND l.id = r.id`;
    const params = [ids, col((s) => s.cv), col((s) => s.cm), col((s) => s.cd), col((s) => s.n)];
    if (!withCommit(em, sql, params)) await em.query(sql, params);
  }

  /**
   * Moves hosts between statuses, guarded by the status they are expected to be in.
   * `clearCreateFailures`: an administrator says the host is sound again (activate).
   * `drainDeadline` (when given, null included): the drain's deadline, as a Date or as seconds
   * from now on PostgreSQL's clock (the clock the watcher compares it with); it starts afresh
   * (not reached, no evacuation).
   */
  async setStatus(
    ids: string[],
    from: HostStatus[],
    to: HostStatus,
    reason: string | null,
    opts: { clearCreateFailures?: boolean; drainDeadline?: Date | { inS: number } | null } = {},
  ): Promise<HostEntity[]> {
    if (ids.length === 0) return [];
    const deadline = opts.drainDeadline;
    return this.db.transaction(async (em) => {
      const rows = await em.query<[Record<string, unknown>[], number]>(
        // Rows are locked in id order, as placements lock them, so the two never deadlock.
        `UPDATE hosts SET status = $3, status_reason = $4, version = version + 1, updated_at = now(),
           create_failures = CASE WHEN $5::boolean THEN 0 ELSE create_failures END,
           drain_deadline = CASE WHEN $6::boolean THEN COALESCE($7::timestamptz, now() + make_interval(secs => $8::float8)) ELSE drain_deadline END,
           drain_deadline_reached_at = CASE WHEN $6::boolean THEN NULL ELSE drain_deadline_reached_at END,
           drain_evacuation_id = CASE WHEN $6::boolean THEN NULL ELSE drain_evacuation_id END
         WHERE id IN (SELECT id FROM hosts WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[]) ORDER BY id FOR NO KEY UPDATE)
           AND status = ANY($2::text[]) RETURNING *`,
        [ids, from, to, reason, opts.clearCreateFailures === true, deadline !== undefined, deadline instanceof Date ? deadline : null, deadline && !(deadline instanceof Date) ? deadline.inS : null],
      );
      // Controllers reload their view of the fleet at once (delivered at commit).
      if (rows[0].length > 0) await em.query(`SELECT pg_notify('${HOSTS_CHANNEL}', '')`);
      const changed = rows[0].map((r) => fromRow<HostEntity>(r));
      const events: NewEvent[] = changed.map((h) => ({
        type: 'host.status',
        subjectType: 'host',
        subjectId: h.id,
        projectId: null,
        data: { name: h.name, status: to, reason, drainDeadline: h.drainDeadline ? new Date(h.drainDeadline).toISOString() : null },
      }));
      await this.events.append(em, events);
      return changed;
    });
  }

  /**
   * A draining host's deadline moved (or set): it starts afresh, not reached and without an
   * evacuation; the reason changes when one is given. Null when the host is not draining.
   */
  async setDrainDeadline(id: string, deadline: Date | { inS: number }, reason: string | null): Promise<HostEntity | null> {
    return this.db.transaction(async (em) => {
      const rows = await em.query<[Record<string, unknown>[], number]>(
        `UPDATE hosts SET drain_deadline = COALESCE($2::timestamptz, now() + make_interval(secs => $3::float8)),
           drain_deadline_reached_at = NULL, drain_evacuation_id = NULL, status_reason = COALESCE($4, status_reason),
           version = version + 1, updated_at = now()
         WHERE id = $1 AND status = 'draining' RETURNING *`,
        [id, deadline instanceof Date ? deadline : null, deadline instanceof Date ? null : deadline.inS, reason],
      );
      const row = rows[0][0];
      if (!row) return null;
      const host = fromRow<HostEntity>(row);
      await this.events.append(em, [this.statusEvent(host)]);
      return host;
    });
  }

  /** Draining hosts whose deadline passed and was not acted on yet (ids, oldest deadline first). */
  async drainDue(limit: number): Promise<string[]> {
    const rows = await this.db.manager.query<{ id: string }[]>(
      `SELECT id FROM hosts WHERE drain_deadline IS NOT NULL AND drain_deadline_reached_at IS NULL AND drain_deadline <= now() AND status = 'draining'
       ORDER BY drain_deadline LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /**
   * The host, locked, if its drain deadline is (still) due; null otherwise, or when another
   * transaction holds it (a controller acting on it: it is looked at again on the next tick).
   */
  async lockDrainDue(em: EntityManager, id: string): Promise<HostEntity | null> {
    const rows = await em.query<Record<string, unknown>[]>(
      `SELECT * FROM hosts WHERE id = $1 AND drain_deadline IS NOT NULL AND drain_deadline_reached_at IS NULL AND drain_deadline <= now() AND status = 'draining'
       FOR NO KEY UPDATE SKIP LOCKED`,
      [id],
    );
    return rows[0] ? fromRow<HostEntity>(rows[0]) : null;
  }

  /** The host's row locked (evacuations of one host are serialised on it); null when unknown. */
  async lockForEvacuation(em: EntityManager, id: string): Promise<HostEntity | null> {
    const rows = await em.query<Record<string, unknown>[]>('SELECT * FROM hosts WHERE id = $1 FOR NO KEY UPDATE', [id]);
    return rows[0] ? fromRow<HostEntity>(rows[0]) : null;
  }

  /** The drain deadline was acted on (in the transaction that acted): with which evacuation, and why, for the host's statusReason. */
  async recordDrainDeadlineReached(em: EntityManager, id: string, evacuationId: string | null, reason: string): Promise<void> {
    const rows = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE hosts SET drain_deadline_reached_at = now(), drain_evacuation_id = $2, status_reason = $3, version = version + 1, updated_at = now()
       WHERE id = $1 RETURNING *`,
      [id, evacuationId, reason],
    );
    const row = rows[0][0];
    if (row) await this.events.append(em, [this.statusEvent(fromRow<HostEntity>(row))]);
  }

  private statusEvent(h: HostEntity): NewEvent {
    return {
      type: 'host.status',
      subjectType: 'host',
      subjectId: h.id,
      projectId: null,
      data: { name: h.name, status: h.status, reason: h.statusReason, drainDeadline: h.drainDeadline ? new Date(h.drainDeadline).toISOString() : null, drainEvacuationId: h.drainEvacuationId },
    };
  }

  /**
   * Records when hosts were last heard from (throttled by the caller). Rows another transaction
   * holds (a placement claiming capacity) are skipped, not waited for: this never blocks a
   * placement nor deadlocks with one, and a skipped host is written at the next check.
   */
  async recordHeartbeats(beats: { id: string; at: number }[]): Promise<void> {
    // In statements of at most 500 hosts, each its own transaction: 10,000 hosts' beats in one
    // held 10,000 rows for seconds, and a placement's claim waits for the rows it needs.
    for (let i = 0; i < beats.length; i += 500) await this.recordSomeHeartbeats(beats.slice(i, i + 500));
  }

  private async recordSomeHeartbeats(beats: { id: string; at: number }[]): Promise<void> {
    await this.db.manager.query(
      `WITH free AS (
         SELECT h.id, b.at FROM hosts h JOIN unnest($1::uuid[], $2::float8[]) AS b(id, at) ON h.id = b.id
         WHERE h.last_heartbeat_at IS NULL OR h.last_heartbeat_at < to_timestamp(b.at / 1000.0)
         FOR NO KEY UPDATE OF h SKIP LOCKED)
       UPDATE hosts SET last_heartbeat_at = to_timestamp(free.at / 1000.0) FROM free WHERE hosts.id = free.id`,
      [beats.map((b) => b.id), beats.map((b) => b.at)],
    );
  }

  /**
   * Placement-group members per host: host id → group id → count. Each form reads through an
   * index whatever the statistics say: on a table that grew by a million rows since its last
   * ANALYZE (or on a server without autovacuum) the planner expected half of them in groups and
   * read them all, 0.6 s at every snapshot.
   */
  async groupCounts(hostIds?: string[]): Promise<Map<string, Record<string, number>>> {
    const rows = await this.db.manager.query<{ host_id: string; group_id: string; n: number }[]>(
      hostIds
        ? `SELECT host_id, placement_group_id AS group_id, count(*)::int AS n FROM instances
           WHERE host_id = ANY($1::uuid[]) AND placement_group_id IS NOT NULL
           GROUP BY host_id, placement_group_id`
        : `SELECT host_id, placement_group_id AS group_id, count(*)::int AS n FROM instances
           WHERE placement_group_id = ANY (ARRAY(SELECT id FROM placement_groups)) AND host_id IS NOT NULL
           GROUP BY host_id, placement_group_id`,
      hostIds ? [hostIds] : [],
    );
    const out = new Map<string, Record<string, number>>();
    for (const r of rows) out.set(r.host_id, { ...out.get(r.host_id), [r.group_id]: r.n });
    return out;
  }

  /**
   * macOS guests holding one of their Mac's two licence slots, per host: VMs of a macOS template
   * being created, running or suspended (Hyperplane's `suspended` covers prlctl's paused too).
   */
  async macosGuestCounts(hostIds?: string[], em: EntityManager = this.db.manager): Promise<Map<string, number>> {
    // Through instances_vm_guests by the macOS templates' names, and for some hosts by their ids
    // too, rather than one text for both with an "ids or everything" parameter (as groupCounts).
    const rows = await em.query<{ host_id: string; n: number }[]>(
      `SELECT i.host_id, count(*)::int AS n FROM instances i
       WHERE i.technology = 'vm' AND i.template = ANY (ARRAY(SELECT name FROM templates WHERE os_family = 'macos'))
         AND i.host_id IS NOT NULL AND i.state IN ('provisioning', 'running', 'suspended', 'migrating')
         ${hostIds ? 'AND i.host_id = ANY($1::uuid[])' : ''}
       GROUP BY i.host_id`,
      hostIds ? [hostIds] : [],
    );
    return new Map(rows.map((r) => [r.host_id, r.n]));
  }

  async byIds(ids: string[]): Promise<HostEntity[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.manager.query<Record<string, unknown>[]>('SELECT * FROM hosts WHERE id = ANY($1::uuid[])', [ids]);
    return rows.map((r) => fromRow<HostEntity>(r));
  }

  /** Hosts whose allocation differs from the sum of their instances' claims (should be none). */
  async allocationDrift(): Promise<{ hostId: string; alloc: Capacity; sum: Capacity }[]> {
    const rows = await this.db.manager.query<Record<string, number | string>[]>(`
      SELECT h.id, h.alloc_vcpus, h.alloc_memory_mib, h.alloc_disk_gib, h.alloc_instances,
             COALESCE(SUM(i.claim_vcpus), 0)::int AS s_vcpus, COALESCE(SUM(i.claim_memory_mib), 0)::int AS s_mem,
             COALESCE(SUM(i.claim_disk_gib), 0)::int AS s_disk, COUNT(i.id)::int AS s_n
      FROM hosts h LEFT JOIN instances i ON i.host_id = h.id
      GROUP BY h.id
      HAVING h.alloc_vcpus <> COALESCE(SUM(i.claim_vcpus), 0) OR h.alloc_memory_mib <> COALESCE(SUM(i.claim_memory_mib), 0)
          OR h.alloc_disk_gib <> COALESCE(SUM(i.claim_disk_gib), 0) OR h.alloc_instances <> COUNT(i.id)`);
    return rows.map((r) => ({
      hostId: String(r.id),
      alloc: { vcpus: fromMilliVcpus(Number(r.alloc_vcpus)), memoryMiB: Number(r.alloc_memory_mib), diskGiB: Number(r.alloc_disk_gib), instances: Number(r.alloc_instances) },
      sum: { vcpus: fromMilliVcpus(Number(r.s_vcpus)), memoryMiB: Number(r.s_mem), diskGiB: Number(r.s_disk), instances: Number(r.s_n) },
    }));
  }
}

/** Raised by a claim sent with its COMMIT that no longer fits (claimAtCommit). */
export const SQLSTATE_CLAIM_REFUSED = 'HC001';

export function isClaimRefused(error: unknown): boolean {
  return pgErrorCode(error) === SQLSTATE_CLAIM_REFUSED;
}

/** The guarded UPDATE that claims capacity on hosts (one row per host), without RETURNING. */
function claimStatement(claims: (HostClaim & { limits: ClaimLimits })[]): { sql: string; params: unknown[] } {
  const col = <T>(f: (c: HostClaim & { limits: ClaimLimits }) => T): T[] => claims.map(f);
  return {
    sql: `UPDATE hosts h SET
         alloc_vcpus = alloc_vcpus + r.cv, alloc_memory_mib = alloc_memory_mib + r.cm,
         alloc_disk_gib = alloc_disk_gib + r.cd, alloc_instances = alloc_instances + r.n,
         version = version + 1
       FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[], $5::int[], $6::numeric[], $7::numeric[], $8::numeric[], $9::int[], $10::int[], $11::int[], $12::int[])
         AS r(id, cv, cm, cd, n, ratio_v, ratio_m, ratio_d, res_v, res_m, res_d, max_n)
       WHERE h.id = r.id AND h.status = 'ready'
         AND alloc_vcpus + r.cv <= floor(cap_vcpus * r.ratio_v) - r.res_v
         AND alloc_memory_mib + r.cm <= floor(cap_memory_mib * r.ratio_m) - r.res_m
         AND alloc_disk_gib + r.cd <= floor(cap_disk_gib * r.ratio_d) - r.res_d
         AND alloc_instances + r.n <= LEAST(CASE WHEN cap_instances > 0 THEN cap_instances ELSE r.max_n END, r.max_n)`,
    params: [
      col((c) => c.hostId),
      col((c) => toMilliVcpus(c.claim.vcpus)),
      col((c) => c.claim.memoryMiB),
      col((c) => c.claim.diskGiB),
      col((c) => c.instances),
      col((c) => c.limits.ratios.vcpus),
      col((c) => c.limits.ratios.memoryMiB),
      col((c) => c.limits.ratios.diskGiB),
      col((c) => toMilliVcpus(c.limits.reserved.vcpus)),
      col((c) => c.limits.reserved.memoryMiB),
      col((c) => c.limits.reserved.diskGiB),
      col((c) => c.limits.maxInstancesPerHost),
    ],
  };
}
