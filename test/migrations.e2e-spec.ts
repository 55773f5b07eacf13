import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { createDataSource, migrateDatabase, pendingSchemaChanges } from '@hyperplane/db';
import { MIGRATIONS } from '@hyperplane/migrations';

describe('migrations', () => {
  const name = `hp_migr_${randomBytes(4).toString('hex')}`;
  const admin = process.env.HYPERPLANE_TEST_PG!;
  const url = admin.replace(/\/[^/]*$/, `/${name}`);

  beforeAll(async () => {
    const c = new Client({ connectionString: admin });
    await c.connect();
    await c.query(`CREATE DATABASE "${name}"`);
    await c.end();
  });
  afterAll(async () => {
    const c = new Client({ connectionString: admin });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.end();
  });

  it('runs every migration on an empty database', async () => {
    const applied = await migrateDatabase(url);
    expect(applied).toHaveLength(MIGRATIONS.length);
    expect(await migrateDatabase(url)).toEqual([]);
  });

  it('leaves nothing for a new migration to generate (no drift between entities and schema)', async () => {
    const ds = await createDataSource({ url, poolSize: 1 }).initialize();
    try {
      const { up } = await pendingSchemaChanges(ds);
      expect(up).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it('has a working down for every migration', async () => {
    const ds = await createDataSource({ url, poolSize: 1 }).initialize();
    try {
      for (let i = 0; i < MIGRATIONS.length; i++) await ds.undoLastMigration({ transaction: 'all' });
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT IN ('migrations', 'typeorm_metadata')`);
      expect(n).toBe(0);
      await ds.runMigrations({ transaction: 'all' });
      expect((await pendingSchemaChanges(ds)).up).toEqual([]);
    } finally {
      await ds.destroy();
    }
  });

  it("makes a change of an instance's state alone a HOT update (no index entries), and keeps the flags derived from it", async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('BEGIN');
      const id = '00000000-0000-4000-8000-000000000001';
      await c.query(
        `INSERT INTO instances (id, project_id, name, template, requested_technology, state, desired_state, vcpus, memory_mib, disk_gib)
         SELECT $1, id, 'hot', 'alpine-3.20', 'container', 'provisioning', 'running', 1, 256, 1 FROM projects WHERE name = 'default'`,
        [id],
      );
      const hot = async (): Promise<number> => Number((await c.query(`SELECT pg_stat_get_xact_tuples_hot_updated('instances'::regclass) AS n`)).rows[0].n);
      const before = await hot();
      await c.query(`UPDATE instances SET state = 'running', version = version + 1, updated_at = now() WHERE id = $1`, [id]);
      expect(await hot()).toBe(before + 1);
      // Entering unschedulable or deleted changes an indexed flag: not HOT, and the flags follow.
      await c.query(`UPDATE instances SET state = 'unschedulable' WHERE id = $1`, [id]);
      expect(await hot()).toBe(before + 1);
      expect((await c.query(`SELECT live, unschedulable FROM instances WHERE id = $1`, [id])).rows[0]).toEqual({ live: true, unschedulable: true });
      await c.query(`UPDATE instances SET state = 'deleted' WHERE id = $1`, [id]);
      expect((await c.query(`SELECT live, unschedulable FROM instances WHERE id = $1`, [id])).rows[0]).toEqual({ live: false, unschedulable: false });
    } finally {
      await c.query('ROLLBACK');
      await c.end();
    }
  });

  it('creates the default project', async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    const { rows } = await c.query(`SELECT name FROM projects`);
    await c.end();
    expect(rows).toEqual([{ name: 'default' }]);
  });
});
