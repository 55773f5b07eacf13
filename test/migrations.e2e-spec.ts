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
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'`);
      expect(n).toBe(0);
      await ds.runMigrations({ transaction: 'all' });
      expect((await pendingSchemaChanges(ds)).up).toEqual([]);
    } finally {
      await ds.destroy();
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
