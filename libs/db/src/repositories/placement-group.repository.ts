import { EntityManager } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Database } from '../database';
import { PlacementGroupEntity } from '../entities';

export class PlacementGroupRepository {
  constructor(private readonly db: Database) {}

  async insert(row: Partial<PlacementGroupEntity>): Promise<void> {
    await this.db.manager.insert(PlacementGroupEntity, row as QueryDeepPartialEntity<PlacementGroupEntity>);
  }

  get(id: string): Promise<PlacementGroupEntity | null> {
    return this.db.manager.findOneBy(PlacementGroupEntity, { id });
  }

  findByName(projectId: string, name: string): Promise<PlacementGroupEntity | null> {
    return this.db.manager.findOneBy(PlacementGroupEntity, { projectId, name });
  }

  async list(projectIds: string[] | null): Promise<PlacementGroupEntity[]> {
    const qb = this.db.manager.createQueryBuilder(PlacementGroupEntity, 'g').orderBy('g.name', 'ASC');
    if (projectIds) qb.where('g.project_id = ANY(:projectIds)', { projectIds });
    return qb.getMany();
  }

  /** Instances of the group that are not deleted. */
  async liveMembers(id: string): Promise<number> {
    const [row] = await this.db.manager.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM instances WHERE placement_group_id = $1 AND live`, [id]);
    return row?.n ?? 0;
  }

  /** Deletes the group unless it still has members (checked in the same statement). */
  async deleteIfEmpty(id: string): Promise<boolean> {
    const res = await this.db.manager.query<[unknown, number]>(
      `DELETE FROM placement_groups g WHERE g.id = $1 AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.placement_group_id = g.id AND i.live)`,
      [id],
    );
    return res[1] === 1;
  }

  /** Serialises placements of one group: take it before any other lock in the transaction. */
  async lock(em: EntityManager, groupId: string): Promise<void> {
    await em.query('SELECT id FROM placement_groups WHERE id = $1 FOR UPDATE', [groupId]);
  }

  /** The group's members on `hostId` and anywhere, excluding the instance being placed. */
  async countMembers(em: EntityManager, groupId: string, hostId: string, exceptInstance: string): Promise<{ onHost: number; placed: number }> {
    const [row] = await em.query<{ on_host: number; placed: number }[]>(
      `SELECT count(*) FILTER (WHERE host_id = $2)::int AS on_host, count(*) FILTER (WHERE host_id IS NOT NULL)::int AS placed
       FROM instances WHERE placement_group_id = $1 AND id <> $3`,
      [groupId, hostId, exceptInstance],
    );
    return { onHost: row?.on_host ?? 0, placed: row?.placed ?? 0 };
  }
}
