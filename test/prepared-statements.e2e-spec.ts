import { Client } from 'pg';
import { Database, prepareOn, StatementNames } from '@hyperplane/db';
import { freshDatabase, startStack } from '@hyperplane/testing';

// The pool's statements as prepared statements (StatementNames): a text with parameters is
// parsed once per connection and bound afterwards, within a bounded number of texts.
describe('prepared statements', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let client: Client;
  let names: StatementNames;

  beforeAll(async () => {
    db = await freshDatabase();
    client = new Client({ connectionString: db.url });
    await client.connect();
    names = new StatementNames(3);
    prepareOn(client, names);
    await client.query('CREATE TABLE things (id int PRIMARY KEY, label text)');
    await client.query(`INSERT INTO things VALUES (1, 'one'), (2, 'two')`);
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  const prepared = async (): Promise<string[]> =>
    (await client.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY prepare_time')).rows.map((r) => r.statement);

  it('prepares a text with parameters once, and answers as an unnamed statement would', async () => {
    const text = 'SELECT label FROM things WHERE id = $1';
    expect((await client.query(text, [1])).rows).toEqual([{ label: 'one' }]);
    expect((await client.query(text, [2])).rows).toEqual([{ label: 'two' }]);
    expect(await prepared()).toEqual([text]);
    // Without parameters: the simple protocol, several statements allowed, nothing prepared.
    const both = (await client.query('SELECT 1 AS a; SELECT 2 AS b')) as unknown as { rows: unknown[] }[];
    expect(both.map((r) => r.rows)).toEqual([[{ a: 1 }], [{ b: 2 }]]);
    expect(await prepared()).toEqual([text]);
  });

  it('prepares no more texts than its bound, and still runs the others', async () => {
    await client.query('SELECT id FROM things WHERE label = $1', ['one']);
    await client.query('SELECT count(*) FROM things WHERE id > $1', [0]);
    expect(names.size).toBe(3);
    expect((await client.query('SELECT id FROM things WHERE id < $1 ORDER BY id', [3])).rows).toEqual([{ id: 1 }, { id: 2 }]);
    expect(names.size).toBe(3);
    expect(await prepared()).toHaveLength(3);
  });

  it('prepares a text again after its table changed under it (a migration while running)', async () => {
    const text = 'SELECT * FROM things WHERE id = $1';
    const small = new StatementNames();
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      prepareOn(other, small);
      expect((await other.query(text, [1])).rows).toEqual([{ id: 1, label: 'one' }]);
      await client.query('ALTER TABLE things ADD COLUMN note text');
      await expect(other.query(text, [1])).rejects.toThrow('cached plan must not change result type');
      expect((await other.query(text, [1])).rows).toEqual([{ id: 1, label: 'one', note: null }]);
    } finally {
      await other.end();
    }
  });
});

describe("the API's and the controller's pools", () => {
  it('prepare their statements by default', async () => {
    const stack = await startStack({ noAgent: true });
    try {
      for (const app of [stack.api, stack.controller!]) {
        const statements = await app.get(Database).transaction(async (em) => {
          await em.query('SELECT $1::int AS probe', [1]);
          // The same connection: the transaction's.
          return em.query<{ statement: string }[]>('SELECT statement FROM pg_prepared_statements');
        });
        expect(statements.map((r) => r.statement)).toContain('SELECT $1::int AS probe');
      }
    } finally {
      await stack.stop();
    }
  });
});
