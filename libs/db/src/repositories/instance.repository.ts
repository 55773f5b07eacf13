import { canTransition, guardFrom, InstanceState, Resources, toMilliVcpus } from '@hyperplane/domain';
import { EntityManager } from 'typeorm';
import { Database, fromRow } from '../database';
import { InstanceEntity } from '../entities';
import { bulkInsert, setClause } from '../sql';
import { EventRepository } from './event.repository';

export interface InstanceFilter {
  /** null: every project (fleet-wide caller). */
  projectIds: string[] | null;
  state?: InstanceState;
  hostId?: string;
  technology?: string;
  includeDeleted?: boolean;
  /** Keyset cursor: rows strictly older than this (created_at, id). */
  before?: { createdAt: string; id: string };
  limit: number;
}

export interface PlacedRow {
  id: string;
  hostId: string;
  driver: string;
  technology: string;
  arch: string;
  claim: Resources;
  explanation: Record<string, unknown>;
}

export type InstancePatch = Partial<Omit<InstanceEntity, 'id' | 'version' | 'project' | 'host'>>;

export class InstanceRepository {
  constructor(
    private readonly db: Database,
    private readonly events: EventRepository,
  ) {}

  async insert(em: EntityManager, rows: Partial<InstanceEntity>[]): Promise<void> {
    await bulkInsert(em, InstanceEntity, rows);
    await this.events.append(
      em,
      rows.map((r) => ({
        type: 'instance.state',
        subjectType: 'instance',
        subjectId: r.id!,
        projectId: r.projectId!,
        data: { name: r.name, from: null, state: r.state, reason: null },
      })),
    );
  }

  /** Whole rows by id (a batch's chunk: thousands, as one array parameter rather than an IN list). */
  async byIds(ids: string[]): Promise<InstanceEntity[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.manager.query<Record<string, unknown>[]>('SELECT * FROM instances WHERE id = ANY($1::uuid[])', [ids]);
    return rows.map((r) => fromRow<InstanceEntity>(r));
  }

  /** One row by id (plain SQL: read on the path of every operation, where the ORM's query building showed in profiles). */
  async get(id: string, em: EntityManager = this.db.manager): Promise<InstanceEntity | null> {
    const rows = await em.query<Record<string, unknown>[]>('SELECT * FROM instances WHERE id = $1', [id]);
    return rows[0] ? fromRow<InstanceEntity>(rows[0]) : null;
  }

  async getLocked(em: EntityManager, id: string): Promise<InstanceEntity | null> {
    return em.createQueryBuilder(InstanceEntity, 'i').setLock('pessimistic_write').where('i.id = :id', { id }).getOne();
  }

  async findByName(projectId: string, name: string): Promise<InstanceEntity | null> {
    return this.db.manager
      .createQueryBuilder(InstanceEntity, 'i')
      .where('i.project_id = :projectId AND i.name = :name AND i.live', { projectId, name })
      .getOne();
  }

  async list(filter: InstanceFilter): Promise<InstanceEntity[]> {
    const qb = this.db.manager
      .createQueryBuilder(InstanceEntity, 'i')
      .orderBy('i.created_at', 'DESC')
      .addOrderBy('i.id', 'DESC')
      .limit(filter.limit);
    if (filter.projectIds) qb.andWhere('i.project_id = ANY(:projectIds)', { projectIds: filter.projectIds });
    if (filter.state) qb.andWhere('i.state = :state', { state: filter.state });
    else if (!filter.includeDeleted) qb.andWhere('i.live');
    if (filter.hostId) qb.andWhere('i.host_id = :hostId', { hostId: filter.hostId });
    if (filter.technology) qb.andWhere('i.technology = :technology', { technology: filter.technology });
    // The cursor's timestamp has milliseconds; the row's own has microseconds: use the row's.
    if (filter.before) {
      qb.andWhere(
        '(i.created_at, i.id) < (COALESCE((SELECT c.created_at FROM instances c WHERE c.id = :id::uuid), :createdAt::timestamptz), :id::uuid)',
        filter.before,
      );
    }
    return qb.getMany();
  }

  /**
   * The one way an instance changes state: a guarded UPDATE that succeeds only from one of
   * `from`, and an event in the same transaction. Returns null when the guard fails (someone
   * else moved the instance first), which callers treat as "already handled". Only the `from`
   * states the domain's table allows for `to` are kept: a move the table refuses never happens.
   */
  async transition(em: EntityManager, id: string, from: readonly InstanceState[], to: InstanceState, patch: InstancePatch = {}): Promise<InstanceEntity | null> {
    const allowed = guardFrom(from, to);
    if (allowed.length === 0) return null;
    const { sql, params } = setClause({ ...patch, state: to }, 3);
    const result = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE instances i SET ${sql}, version = i.version + 1, updated_at = now()
       FROM (SELECT id, state AS previous_state, state_reason AS previous_reason FROM instances WHERE id = $1 FOR UPDATE) p
       WHERE i.id = p.id AND i.state = ANY($2::text[])
       RETURNING i.*, p.previous_state, p.previous_reason`,
      [id, allowed, ...params],
    );
    const row = result[0][0];
    if (!row) return null;
    const instance = fromRow<InstanceEntity & { previousState: InstanceState; previousReason: string | null }>(row);
    // An event for each change of state or of its reason; a restart (running → running) is
    // an operation, not a state change.
    if (instance.previousState !== to || instance.previousReason !== instance.stateReason) {
      await this.events.append(em, [
        {
          type: 'instance.state',
          subjectType: 'instance',
          subjectId: id,
          projectId: instance.projectId,
          data: { name: instance.name, from: instance.previousState, state: to, reason: instance.stateReason, hostId: instance.hostId },
        },
      ]);
    }
    return instance;
  }

  /** The instance an operation is about (null when it has none, or it is gone). */
  async ofOperation(operationId: string): Promise<InstanceEntity | null> {
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      'SELECT i.* FROM operations o JOIN instances i ON i.id = o.instance_id WHERE o.id = $1',
      [operationId],
    );
    return rows[0] ? fromRow<InstanceEntity>(rows[0]) : null;
  }

  /**
   * Locks the instance, applies `patch` and returns the row as it now is, in one statement
   * (getLocked + patch): the caller checks it and throws to roll the change back. Null when
   * there is no such instance.
   */
  async patchLocked(em: EntityManager, id: string, patch: InstancePatch): Promise<InstanceEntity | null> {
    const { sql, params } = setClause(patch, 2);
    if (!sql) return this.getLocked(em, id);
    const result = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE instances SET ${sql}, version = version + 1, updated_at = now() WHERE id = $1 RETURNING *`,
      [id, ...params],
    );
    const row = result[0][0];
    return row ? fromRow<InstanceEntity>(row) : null;
  }

  /** Updates fields without a state change (e.g. desired state), guarded by version when given. */
  async patch(em: EntityManager, id: string, patch: InstancePatch): Promise<void> {
    const { sql, params } = setClause(patch, 2);
    if (!sql) return;
    await em.query(`UPDATE instances SET ${sql}, version = version + 1, updated_at = now() WHERE id = $1`, [id, ...params]);
  }

  /**
   * Places many pending instances at once (a batch): pending → provisioning with their host,
   * driver and claim. Guarded like transition(): instances no longer pending are left alone
   * and not returned, so the caller can give their claims back. Returns the columns a host
   * command needs, not whole rows.
   */
  /** (`ha` is returned too: the create command tells the agent to fence HA instances.) */
  async placeMany(em: EntityManager, rows: PlacedRow[]): Promise<InstanceEntity[]> {
    if (rows.length === 0) return [];
    const updated = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE instances i SET state = 'provisioning', host_id = r.host_id, driver = r.driver, technology = r.technology, arch = r.arch,
         claim_vcpus = r.cv, claim_memory_mib = r.cm, claim_disk_gib = r.cd, state_reason = NULL,
         placement_explanation = r.explanation, version = i.version + 1, updated_at = now()
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::int[], $9::jsonb[])
         AS r(id, host_id, driver, technology, arch, cv, cm, cd, explanation)
       WHERE i.id = r.id AND i.state = ANY($10::text[])
       RETURNING i.id, i.project_id, i.name, i.template, i.host_id, i.driver, i.technology, i.arch, i.vcpus, i.memory_mib, i.disk_gib, i.limits, i.desired_state, i.ha`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.hostId),
        rows.map((r) => r.driver),
        rows.map((r) => r.technology),
        rows.map((r) => r.arch),
        rows.map((r) => toMilliVcpus(r.claim.vcpus)),
        rows.map((r) => r.claim.memoryMiB),
        rows.map((r) => r.claim.diskGiB),
        rows.map((r) => JSON.stringify(r.explanation)),
        guardFrom(['pending'], 'provisioning'),
      ],
    );
    const placed = updated[0].map((r) => fromRow<InstanceEntity>(r));
    await this.events.append(
      em,
      placed.map((i) => ({
        type: 'instance.state',
        subjectType: 'instance' as const,
        subjectId: i.id,
        projectId: i.projectId,
        data: { name: i.name, from: 'pending', state: 'provisioning', reason: null, hostId: i.hostId },
      })),
    );
    return placed;
  }

  /** Pending instances no host can take (a batch): pending → unschedulable with the reason. */
  async unschedulableMany(em: EntityManager, ids: string[], reason: string, explanation: Record<string, unknown>): Promise<InstanceEntity[]> {
    if (ids.length === 0) return [];
    const updated = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE instances SET state = 'unschedulable', state_reason = $2, placement_explanation = $3, version = version + 1, updated_at = now()
       WHERE id = ANY($1::uuid[]) AND state = ANY($4::text[]) RETURNING *`,
      [ids, reason, JSON.stringify(explanation), guardFrom(['pending', 'scheduling'], 'unschedulable')],
    );
    const moved = updated[0].map((r) => fromRow<InstanceEntity>(r));
    await this.events.append(
      em,
      moved.map((i) => ({ type: 'instance.state', subjectType: 'instance' as const, subjectId: i.id, projectId: i.projectId, data: { name: i.name, from: 'pending', state: 'unschedulable', reason } })),
    );
    return moved;
  }

  /**
   * Many instances to the states their hosts reported at once (results applied in bulk):
   * each only from the states `allowedFrom` gives for its command, with an event for each
   * that changed. Rows are locked in id order, so concurrent batches cannot deadlock.
   */
  async settleMany(em: EntityManager, rows: { id: string; state: InstanceState; from: readonly InstanceState[] }[]): Promise<void> {
    if (rows.length === 0) return;
    const sorted = [...rows].sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => ({ ...r, from: guardFrom(r.from, r.state) }));
    const moved = await em.query<[Record<string, unknown>[], number]>(
      `WITH prev AS (SELECT id, state FROM instances WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE),
            r AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) AS r(id, state, allowed))
       UPDATE instances i SET state = r.state, state_reason = NULL, version = i.version + 1, updated_at = now()
       FROM r JOIN prev p ON p.id = r.id
       WHERE i.id = r.id AND p.state = ANY(string_to_array(r.allowed, ','))
       RETURNING i.id, i.project_id, i.name, i.host_id, i.state, p.state AS previous_state`,
      [sorted.map((r) => r.id), sorted.map((r) => r.state), sorted.map((r) => r.from.join(','))],
    );
    await this.events.append(
      em,
      moved[0]
        .filter((r) => r.previous_state !== r.state)
        .map((r) => ({
          type: 'instance.state',
          subjectType: 'instance' as const,
          subjectId: String(r.id),
          projectId: String(r.project_id),
          data: { name: r.name, from: r.previous_state, state: r.state, reason: null, hostId: r.host_id },
        })),
    );
  }

  /**
   * Many instances to one state at once (a batch delete's chunk to `deleting`), each only from
   * the states the domain allows, keeping its reason; rows locked in id order, an event for each
   * that changed. Returns the moved rows' columns a host command needs.
   */
  async transitionMany(em: EntityManager, ids: string[], from: readonly InstanceState[], to: InstanceState): Promise<Pick<InstanceEntity, 'id' | 'projectId' | 'name' | 'hostId' | 'driver' | 'state'>[]> {
    const allowed = guardFrom(from, to);
    if (ids.length === 0 || allowed.length === 0) return [];
    const moved = await em.query<[Record<string, unknown>[], number]>(
      `WITH prev AS (SELECT id, state FROM instances WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE)
       UPDATE instances i SET state = $3, version = i.version + 1, updated_at = now()
       FROM prev p WHERE i.id = p.id AND p.state = ANY($2::text[])
       RETURNING i.id, i.project_id, i.name, i.host_id, i.driver, i.state, i.state_reason, p.state AS previous_state`,
      [ids, allowed, to],
    );
    const rows = moved[0];
    await this.events.append(
      em,
      rows
        .filter((r) => r.previous_state !== to)
        .map((r) => ({
          type: 'instance.state',
          subjectType: 'instance' as const,
          subjectId: String(r.id),
          projectId: String(r.project_id),
          data: { name: r.name, from: r.previous_state, state: to, reason: r.state_reason ?? null, hostId: r.host_id },
        })),
    );
    return rows.map((r) => fromRow<InstanceEntity>(r));
  }

  /**
   * Instances whose hosts removed them (destroy results applied in bulk): deleting → deleted,
   * without host or claim, an event for each. Returns what each held, in milli-vCPUs as stored,
   * for releasing it from its host (HostRepository.releaseMany).
   */
  async deletedMany(em: EntityManager, ids: string[]): Promise<{ hostId: string | null; milliVcpus: number; memoryMiB: number; diskGiB: number }[]> {
    if (ids.length === 0) return [];
    const gone = await em.query<[Record<string, unknown>[], number]>(
      `WITH prev AS (SELECT id, state, host_id, claim_vcpus, claim_memory_mib, claim_disk_gib FROM instances WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE)
       UPDATE instances i SET state = 'deleted', host_id = NULL, claim_vcpus = 0, claim_memory_mib = 0, claim_disk_gib = 0,
         deleted_at = now(), state_reason = NULL, version = i.version + 1, updated_at = now()
       FROM prev p WHERE i.id = p.id AND p.state = ANY($2::text[])
       RETURNING i.id, i.project_id, i.name, p.host_id, p.claim_vcpus, p.claim_memory_mib, p.claim_disk_gib`,
      [ids, guardFrom(['deleting'], 'deleted')],
    );
    const rows = gone[0];
    await this.events.append(
      em,
      rows.map((r) => ({
        type: 'instance.state',
        subjectType: 'instance' as const,
        subjectId: String(r.id),
        projectId: String(r.project_id),
        data: { name: r.name, from: 'deleting', state: 'deleted', reason: null, hostId: null },
      })),
    );
    return rows.map((r) => ({
      hostId: (r.host_id as string | null) ?? null,
      milliVcpus: Number(r.claim_vcpus),
      memoryMiB: Number(r.claim_memory_mib),
      diskGiB: Number(r.claim_disk_gib),
    }));
  }

  /**
   * A batch delete's request: every one of `ids` wants to be deleted, locked in id order.
   * Returns the ids whose state allows a delete; the caller refuses the batch if any is missing.
   */
  async wantDeletedMany(em: EntityManager, ids: string[], deletable: readonly InstanceState[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await em.query<[{ id: string }[], number]>(
      `WITH locked AS (SELECT id, state FROM instances WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE)
       UPDATE instances i SET desired_state = 'deleted', version = i.version + 1, updated_at = now()
       FROM locked l WHERE i.id = l.id AND l.state = ANY($2::text[]) RETURNING i.id`,
      [ids, deletable],
    );
    return new Set(rows[0].map((r) => r.id));
  }

  /** Clears the state's reason (only if it is still set: no needless row version). */
  async clearReason(em: EntityManager, id: string): Promise<void> {
    await em.query('UPDATE instances SET state_reason = NULL, version = version + 1, updated_at = now() WHERE id = $1 AND state_reason IS NOT NULL', [id]);
  }

  /** What the instance holds on its host, for releasing it. */
  claimOf(instance: InstanceEntity): Resources {
    return { vcpus: instance.claimVcpus, memoryMiB: instance.claimMemoryMib, diskGiB: instance.claimDiskGib };
  }

  /** Instances on a host that the agent should know about (not deleted, not being made). */
  onHost(hostId: string): Promise<InstanceEntity[]> {
    return this.db.manager.findBy(InstanceEntity, { hostId });
  }

  /**
   * A host is removed while instances are still on it (it was lost): each goes to `error` with
   * `reason`, without a host and without a claim (the host's row goes, and its allocation with it).
   * Returns the ids moved.
   */
  async evictFromHost(em: EntityManager, hostId: string, reason: string): Promise<string[]> {
    const rows = await em.query<{ id: string; state: InstanceState; ha: { restart?: boolean } | null; requested_technology: string }[]>(
      'SELECT id, state, ha, requested_technology FROM instances WHERE host_id = $1 ORDER BY id FOR UPDATE',
      [hostId],
    );
    const off: InstancePatch = { hostId: null, claimVcpus: 0, claimMemoryMib: 0, claimDiskGib: 0, stateReason: reason };
    for (const r of rows) {
      if (r.ha?.restart && canTransition(r.state, 'unschedulable')) {
        // HA: placed again elsewhere by the rescheduler, as soon as a host fits (the API removes
        // a host with HA instances only once it is fenced).
        await this.transition(em, r.id, [r.state], 'unschedulable', {
          ...off,
          driver: null,
          arch: null,
          technology: r.requested_technology === 'auto' ? null : (r.requested_technology as InstancePatch['technology']),
          stateReason: `${reason}; HA: waiting to be placed on another host`,
        });
      } else if (canTransition(r.state, 'error')) await this.transition(em, r.id, [r.state], 'error', off);
      else await this.patch(em, r.id, off);
    }
    return rows.map((r) => r.id);
  }

  /**
   * The host's instances in one of `states`, not changed since `before`, whose state is not the
   * one `observed` gives them (absent from it: any state differs). Name, state and host only.
   */
  async differingFrom(hostId: string, states: readonly string[], before: Date, observed: { id: string; state: string }[]): Promise<Pick<InstanceEntity, 'id' | 'name' | 'state'>[]> {
    return this.db.manager.query<Pick<InstanceEntity, 'id' | 'name' | 'state'>[]>(
      `SELECT i.id, i.name, i.state FROM instances i
         LEFT JOIN unnest($4::uuid[], $5::text[]) AS o(id, state) ON o.id = i.id
       WHERE i.host_id = $1 AND i.state = ANY($2::text[]) AND i.updated_at < $3 AND o.state IS DISTINCT FROM i.state`,
      [hostId, states, before, observed.map((o) => o.id), observed.map((o) => o.state)],
    );
  }

  /** Which host each of these instances lives on now (absent: deleted or unknown); for agents learning what moved away. */
  /** Where many instances are and in what state (a batch delete's check): four columns, not whole rows. */
  async brief(ids: string[]): Promise<Pick<InstanceEntity, 'id' | 'projectId' | 'state' | 'hostId'>[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.manager.query<Record<string, unknown>[]>('SELECT id, project_id, state, host_id FROM instances WHERE id = ANY($1::uuid[])', [ids]);
    return rows.map((r) => fromRow<InstanceEntity>(r));
  }

  async hostsOf(ids: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    if (ids.length === 0) return out;
    const rows = await this.db.manager.query<{ id: string; host_id: string | null }[]>(
      `SELECT id, host_id FROM instances WHERE id = ANY($1::uuid[]) AND state <> 'deleted'`,
      [ids],
    );
    for (const r of rows) out.set(r.id, r.host_id);
    return out;
  }

  /** The HA instances (ha.restart) the database places on these hosts. */
  async haOnHosts(hostIds: string[]): Promise<{ id: string; hostId: string }[]> {
    if (hostIds.length === 0) return [];
    const rows = await this.db.manager.query<{ id: string; host_id: string }[]>(
      `SELECT id, host_id FROM instances WHERE host_id = ANY($1::uuid[]) AND state <> 'deleted' AND (ha->>'restart')::boolean IS TRUE`,
      [hostIds],
    );
    return rows.map((r) => ({ id: r.id, hostId: r.host_id }));
  }

  /** Every live instance on these hosts (a lost host's, for HA recovery), HA ones first by priority. */
  async onHosts(hostIds: string[]): Promise<InstanceEntity[]> {
    if (hostIds.length === 0) return [];
    const rows = await this.db.manager.query<Record<string, unknown>[]>(
      `SELECT * FROM instances WHERE host_id = ANY($1::uuid[]) AND state NOT IN ('deleted', 'deleting')
       ORDER BY COALESCE((ha->>'priority')::int, 0) DESC, id`,
      [hostIds],
    );
    return rows.map((r) => fromRow<InstanceEntity>(r));
  }

  /** The unschedulable instances that waited longest (their partial index holds only them). */
  async unschedulable(limit: number): Promise<InstanceEntity[]> {
    // The ids first, from the partial index that holds only them: asked directly, a table whose
    // statistics do not yet know the rows (a million just made) is expected to be half
    // unschedulable, and the read is planned in parallel workers, whose start alone took 40–110 ms
    // for no row, at every rescheduler pass (each freed claim kicks one).
    const rows: Record<string, unknown>[] = await this.db.manager.query(
      'SELECT * FROM instances WHERE id = ANY(ARRAY(SELECT id FROM instances WHERE unschedulable)) ORDER BY updated_at LIMIT $1',
      [limit],
    );
    return rows.map((r) => fromRow<InstanceEntity>(r));
  }
}
