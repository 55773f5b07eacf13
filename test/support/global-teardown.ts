import { Client } from 'pg';

/** Drops the run's template database and any per-suite copies left behind. */
export default async function globalTeardown(): Promise<void> {
  const template = process.env.HYPERPLANE_TEST_TEMPLATE_DB;
  if (!template) return;
  const admin = new Client({ connectionString: process.env.HYPERPLANE_TEST_PG });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`, [template, `${template}_%`]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
