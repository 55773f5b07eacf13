import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations';

const ADMIN_URL = process.env.HYPERPLANE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh template database for this run, with every migration applied. Each test file
 * copies it (CREATE DATABASE … TEMPLATE), so suites start from a clean schema in ~100 ms.
 */
export default async function globalSetup(): Promise<void> {
  const name = `hp_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  const ds = new DataSource({ type: 'postgres', url, migrations: MIGRATIONS, migrationsTableName: 'migrations' });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'all' });
  await ds.destroy();
  process.env.HYPERPLANE_TEST_TEMPLATE_DB = name;
  process.env.HYPERPLANE_TEST_PG = ADMIN_URL;
}
