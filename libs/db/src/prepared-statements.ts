import { DataSource } from 'typeorm';
import { eachPoolClient } from './data-source';

/** How many distinct query texts get a prepared statement; texts beyond it are sent unnamed. */
export const MAX_PREPARED_TEXTS = 500;

/** PostgreSQL's refusal to run a prepared statement whose result columns changed (a migration ran meanwhile). */
const CHANGED_RESULT = 'cached plan must not change result type';

type QueryFn = (text: unknown, values?: unknown, callback?: unknown) => unknown;
interface PgClient {
  query: QueryFn;
}

/**
 * Names query texts for node-pg, which then prepares each once per connection and binds it
 * afterwards: PostgreSQL parses and analyses a text once per connection instead of at every
 * call, and may keep its plan. A create's 20-odd statements spent about a third of their
 * PostgreSQL time planning (pg_stat_statements, bench:load).
 *
 * Only texts sent with parameters are named (extended protocol, one statement each), and only
 * the first MAX_PREPARED_TEXTS distinct ones, so a server's memory for them stays bounded
 * whatever SQL is built at run time. One name per text for the life of the process.
 *
 * A text whose statement PostgreSQL refuses to reuse (its tables changed under it: a migration
 * of a newer version while this one runs) gets a new name; that call fails, the next prepares
 * it again. Not for a transaction-mode pooler (PgBouncer), whose connections are not the
 * session a statement was prepared in: DbModule turns it off when a session URL is set.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private next = 0;

  constructor(private readonly max = MAX_PREPARED_TEXTS) {}

  nameOf(text: string): string | undefined {
    const known = this.names.get(text);
    if (known !== undefined || this.names.size >= this.max) return known;
    const name = `hp${(this.next++).toString(36)}`;
    this.names.set(text, name);
    return name;
  }

  /** The statement prepared for `text` went stale: the next call prepares it under a new name. */
  forget(text: string): void {
    if (this.names.delete(text)) this.next++;
  }

  get size(): number {
    return this.names.size;
  }
}

/** Wraps one pool client's query(): texts with parameters go as named (prepared) statements. */
export function prepareOn(client: PgClient, names: StatementNames): void {
  const original: QueryFn = client.query.bind(client);
  client.query = (text: unknown, values?: unknown, callback?: unknown): unknown => {
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || callback !== undefined) return original(text, values, callback);
    const name = names.nameOf(text);
    if (name === undefined) return original(text, values);
    return (original({ name, text, values }) as Promise<unknown>).catch((error: unknown) => {
      if ((error as { message?: unknown })?.message === CHANGED_RESULT) names.forget(text);
      throw error;
    });
  };
}

/** Every client of the data source's pool, now and later, prepares its statements (see StatementNames). */
export function usePreparedStatements(ds: DataSource, names = new StatementNames()): DataSource {
  eachPoolClient<PgClient>(ds, (client) => prepareOn(client, names));
  return ds;
}
