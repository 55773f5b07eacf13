import { EntityManager } from 'typeorm';
import { Database } from '../database';
import { InstanceSnapshotEntity } from '../entities';

export class SnapshotRepository {
  constructor(private readonly db: Database) {}

  list(instanceId: string): Promise<InstanceSnapshotEntity[]> {
    return this.db.manager.find(InstanceSnapshotEntity, { where: { instanceId }, order: { createdAt: 'ASC' } });
  }

  get(instanceId: string, name: string): Promise<InstanceSnapshotEntity | null> {
    return this.db.manager.findOneBy(InstanceSnapshotEntity, { instanceId, name });
  }

  async record(em: EntityManager, row: { id: string; instanceId: string; name: string; operationId: string }): Promise<void> {
    await em.query(
      `INSERT INTO instance_snapshots (id, instance_id, name, operation_id) VALUES ($1, $2, $3, $4) ON CONFLICT (instance_id, name) DO NOTHING`,
      [row.id, row.instanceId, row.name, row.operationId],
    );
  }

  async forget(em: EntityManager, instanceId: string, name: string): Promise<void> {
    await em.query('DELETE FROM instance_snapshots WHERE instance_id = $1 AND name = $2', [instanceId, name]);
  }
}
