import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { InstanceState, Resources } from '@hyperplane/domain';
import { EntityManager } from 'typeorm';
import { Database, fromRow } from '../database';
import { InstanceEntity } from '../entities';
import { setClause } from '../sql';
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

export type InstancePatch = Partial<Omit<InstanceEntity, 'id' | 'version' | 'project' | 'host'>>;

export class InstanceRepository {
  constructor(
    private readonly db: Database,
    private readonly events: EventRepository,
  ) {}

  async insert(em: EntityManager, rows: Partial<InstanceEntity>[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 1000) {
      await em.createQueryBuilder().insert().into(InstanceEntity).values(rows.slice(i, i + 1000) as QueryDeepPartialEntity<InstanceEntity>[]).execute();
    }
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

  get(id: string, em: EntityManager = this.db.manager): Promise<InstanceEntity | null> {
    return em.findOneBy(InstanceEntity, { id });
  }

  async getLocked(em: EntityManager, id: string): Promise<InstanceEntity | null> {
    return em.createQueryBuilder(InstanceEntity, 'i').setLock('pessimistic_write').where('i.id = :id', { id }).getOne();
  }

  async findByName(projectId: string, name: string): Promise<InstanceEntity | null> {
    return this.db.manager
      .createQueryBuilder(InstanceEntity, 'i')
      .where('i.project_id = :projectId AND i.name = :name AND i.state <> :deleted', { projectId, name, deleted: 'deleted' })
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
    else if (!filter.includeDeleted) qb.andWhere(`i.state <> 'deleted'`);
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
   * else moved the instance first), which callers treat as "already handled".
   */
  async transition(em: EntityManager, id: string, from: readonly InstanceState[], to: InstanceState, patch: InstancePatch = {}): Promise<InstanceEntity | null> {
    const { sql, params } = setClause({ ...patch, state: to }, 3);
    const result = await em.query<[Record<string, unknown>[], number]>(
      `UPDATE instances i SET ${sql}, version = i.version + 1, updated_at = now()
       FROM (SELECT id, state AS previous_state, state_reason AS previous_reason FROM instances WHERE id = $1 FOR UPDATE) p
       WHERE i.id = p.id AND i.state = ANY($2::text[])
       RETURNING i.*, p.previous_state, p.previous_reason`,
      [id, from, ...params],
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

  /** Updates fields without a state change (e.g. desired state), guarded by version when given. */
  async patch(em: EntityManager, id: string, patch: InstancePatch): Promise<void> {
    const { sql, params } = setClause(patch, 2);
    if (!sql) return;
    await em.query(`UPDATE instances SET ${sql}, version = version + 1, updated_at = now() WHERE id = $1`, [id, ...params]);
  }

  /** What the instance holds on its host, for releasing it. */
  claimOf(instance: InstanceEntity): Resources {
    return { vcpus: instance.claimVcpus, memoryMiB: instance.claimMemoryMib, diskGiB: instance.claimDiskGib };
  }

  /** Instances on a host that the agent should know about (not deleted, not being made). */
  onHost(hostId: string): Promise<InstanceEntity[]> {
    return this.db.manager.findBy(InstanceEntity, { hostId });
  }

  async unschedulable(limit: number): Promise<InstanceEntity[]> {
    return this.db.manager.find(InstanceEntity, { where: { state: 'unschedulable' }, order: { updatedAt: 'ASC' }, take: limit });
  }
}
