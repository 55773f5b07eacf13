import { Client } from 'pg';
import { followEvents, PgBouncer, runPipeline, startPgBouncer, startStack, Stack } from '@hyperplane/testing';

/**
 * PostgreSQL behind PgBouncer in transaction mode: the pool (DATABASE_URL) goes through
 * PgBouncer, and only what needs a session (LISTEN, the migrations' advisory lock) uses
 * HYPERPLANE_DATABASE_SESSION_URL, the direct one.
 */
describe('PostgreSQL behind PgBouncer in transaction mode', () => {
  let bouncer: PgBouncer;
  let stack: Stack;

  beforeAll(async () => {
    bouncer = await startPgBouncer();
    stack = await startStack({ poolUrl: (direct) => bouncer.urlFor(direct) });
  });
  afterAll(async () => {
    await stack?.stop();
    await bouncer?.stop();
  });

  it('is what the apps use: the pool through PgBouncer, the session URL direct', () => {
    expect(stack.config.DATABASE_URL).toContain(`:${bouncer.port}/`);
    expect(stack.config.HYPERPLANE_DATABASE_SESSION_URL).toContain(':5432/');
  });

  it('runs the pipeline (create, stop, start, delete, a batch) and the event stream wakes', async () => {
    const sse = followEvents(stack.url, stack.client.token);
    await sse.ready;
    await runPipeline(stack, 'pgb');
    const vm = (await stack.sql.query(`SELECT id FROM instances WHERE name = 'pgb-vm'`)).rows[0] as { id: string };
    // The LISTEN connection (direct) woke the stream for the states written through PgBouncer.
    sse.stop();
    expect(sse.events.some((e) => e.data.subjectId === vm.id && e.data.state === 'running')).toBe(true);

    // And it all went through PgBouncer, pooled per transaction (its admin console says so).
    const db = new URL(stack.config.DATABASE_URL).pathname.slice(1);
    const admin = new Client({ connectionString: bouncer.adminUrl });
    await admin.connect();
    try {
      const pools = (await admin.query('SHOW POOLS')).rows.filter((r) => r.database === db);
      expect(pools.map((p) => p.pool_mode)).toContain('transaction');
      const stats = (await admin.query('SHOW STATS')).rows.find((r) => r.database === db);
      expect(Number(stats.total_xact_count)).toBeGreaterThan(100);
    } finally {
      await admin.end();
    }
  });
});
