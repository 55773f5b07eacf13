import { Database, HostRepository, inlineParams, isClaimRefused, withCommit } from '@hyperplane/db';
import { simHost, startStack, Stack } from '@hyperplane/testing';

// Statements sent in one message with their transaction's COMMIT (Database's withCommit): a
// host's capacity claim (a single create's or a migration's) and the claims given back by
// destroys applied in bulk. The row they lock is held only while PostgreSQL runs them and
// commits, not across a round trip to a busy controller, which made concurrent placements on
// one host queue behind each other for hundreds of milliseconds under load.
describe('statements sent with the COMMIT', () => {
  let stack: Stack;
  let db: Database;
  let hosts: HostRepository;
  let hostId: string;
  const limits = { ratios: { vcpus: 1, memoryMiB: 1, diskGiB: 1 }, reserved: { vcpus: 0, memoryMiB: 0, diskGiB: 0 }, maxInstancesPerHost: 1000 };

  beforeAll(async () => {
    stack = await startStack({ simHosts: [simHost('committed', 'linux', 'x86_64')] });
    [{ id: hostId }] = await stack.waitForHosts(1);
    db = stack.controller!.get(Database);
    hosts = stack.controller!.get(HostRepository);
  });
  afterAll(() => stack.stop());

  const allocated = async (): Promise<{ vcpus: number; instances: number; zone: string | null }> => {
    const { rows } = await stack.sql.query<{ alloc_vcpus: number; alloc_instances: number; zone: string | null }>('SELECT alloc_vcpus, alloc_instances, zone FROM hosts WHERE id = $1', [hostId]);
    return { vcpus: rows[0]!.alloc_vcpus, instances: rows[0]!.alloc_instances, zone: rows[0]!.zone };
  };

  /** Another session writes the host's row, giving up after 1 s of waiting for its lock. */
  const touchFromOutside = async (): Promise<void> => {
    const c = await stack.sql.connect();
    try {
      await c.query('BEGIN');
      await c.query(`SET LOCAL lock_timeout = '1s'`);
      await c.query('UPDATE hosts SET version = version WHERE id = $1', [hostId]);
      await c.query('COMMIT');
    } catch (error) {
      await c.query('ROLLBACK');
      throw error;
    } finally {
      c.release();
    }
  };

  it('claims at the commit: until then the host row is not locked, and then the claim is there', async () => {
    const before = await allocated();
    await db.transaction(async (em) => {
      await hosts.claimAtCommit(em, { hostId, technology: 'container', claim: { vcpus: 2, memoryMiB: 512, diskGiB: 1 }, instances: 1 }, limits);
      // Claimed in place, this would wait for this transaction and time out.
      await touchFromOutside();
    });
    const after = await allocated();
    expect(after.vcpus - before.vcpus).toBe(2000);
    expect(after.instances - before.instances).toBe(1);
  });

  it('rolls the whole transaction back when the claim no longer fits, with an error that says so', async () => {
    const before = await allocated();
    const attempt = db.transaction(async (em) => {
      await em.query(`UPDATE hosts SET zone = 'should-not-stay' WHERE id = $1`, [hostId]);
      await hosts.claimAtCommit(em, { hostId, technology: 'container', claim: { vcpus: 10_000, memoryMiB: 512, diskGiB: 1 }, instances: 1 }, limits);
    });
    const error = await attempt.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isClaimRefused(error)).toBe(true);
    expect(String((error as Error).message)).toContain(`the claim no longer fits host ${hostId}`);
    expect(await allocated()).toEqual(before);
    // The connection went back to the pool clean: the next transaction commits normally.
    await db.transaction((em) => em.query('UPDATE hosts SET version = version + 1 WHERE id = $1', [hostId]));
  });

  it('claims at once outside a transaction, refusing the same way', async () => {
    const before = await allocated();
    await hosts.claimAtCommit(db.manager, { hostId, technology: 'container', claim: { vcpus: 1, memoryMiB: 256, diskGiB: 1 }, instances: 1 }, limits);
    expect((await allocated()).vcpus - before.vcpus).toBe(1000);
    const refused = await hosts.claimAtCommit(db.manager, { hostId, technology: 'container', claim: { vcpus: 10_000, memoryMiB: 1, diskGiB: 1 }, instances: 1 }, limits).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isClaimRefused(refused)).toBe(true);
    expect(withCommit(db.manager, 'SELECT 1', [])).toBe(false);
  });

  it('runs several such statements in order, after the transaction’s own writes', async () => {
    await db.transaction(async (em) => {
      expect(withCommit(em, `UPDATE hosts SET zone = $2 WHERE id = $1`, [hostId, 'first'])).toBe(true);
      expect(withCommit(em, `UPDATE hosts SET zone = zone || $2 WHERE id = $1`, [hostId, '-then-second'])).toBe(true);
      await em.query(`UPDATE hosts SET zone = 'own-write' WHERE id = $1`, [hostId]);
    });
    expect((await allocated()).zone).toBe('first-then-second');
  });

  it('writes parameters as literals that PostgreSQL reads as it reads bound ones', async () => {
    const cases: [string, unknown][] = [
      ['$1::text', `it's a "quote", a back\\slash, {braces}, a comma, ünïcode and $2`],
      ['$1::text[]', ['plain', `it's`, 'with "double" quotes', 'back\\slash', '{x,y}', 'NULL', '', null]],
      ['$1::int[]', [1, -2, 3]],
      ['$1::numeric[]', [0.5, 8, 1.25]],
      ['$1::uuid[]', [hostId]],
      ['$1::numeric', -12.75],
      ['$1::boolean', false],
      ['$1::timestamptz', new Date('2026-12-05T10:11:12.345Z')],
      ['$1::jsonb', { a: [1, 'two'], b: null }],
      ['$1::text', null],
    ];
    for (const [expr, value] of cases) {
      const bound = await stack.sql.query<{ v: unknown }>(`SELECT (${expr})::text AS v`, [value]);
      const inlined = await stack.sql.query<{ v: unknown }>(`SELECT (${inlineParams(expr, [value])})::text AS v`);
      expect(inlined.rows[0]!.v).toEqual(bound.rows[0]!.v);
    }
    // Two-digit numbers are parameters of their own, not $1 followed by a digit.
    const twelve = Array.from({ length: 12 }, (_, i) => `p${i + 1}`);
    expect(inlineParams('$1,$10,$12', twelve)).toBe(`'p1','p10','p12'`);
    expect(() => inlineParams('$2', ['only one'])).toThrow(/no parameter \$2/);
    expect(() => inlineParams('$1', [Number.NaN])).toThrow(/NaN/);
    expect(() => inlineParams('$1', [[['nested']]])).toThrow(/nested/);
  });
});
