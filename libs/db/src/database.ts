import { fromMilliVcpus } from '@hyperplane/domain';
import { escapeLiteral } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { MILLI_VCPU_COLUMNS } from './entities/milli-vcpus';

type Flush = (em: EntityManager) => Promise<void>;

/** Work to do just before a transaction commits, e.g. writing its buffered events at once. */
const beforeCommit = new WeakMap<EntityManager, Map<string, Flush>>();

/**
 * Asks `flush` to run once at the end of the caller's transaction (keyed, so one flush per
 * kind). Returns false outside a Database.transaction, where the caller writes at once.
 */
export function atCommit(em: EntityManager, key: string, flush: Flush): boolean {
  const hooks = beforeCommit.get(em);
  if (!hooks) return false;
  if (!hooks.has(key)) hooks.set(key, flush);
  return true;
}

/** Work to do once a transaction has committed (counting what it did, say). */
const afterCommitHooks = new WeakMap<EntityManager, (() => void)[]>();

/** Runs `done` once the caller's transaction has committed; at once outside a Database.transaction. */
export function afterCommit(em: EntityManager, done: () => void): void {
  const hooks = afterCommitHooks.get(em);
  if (hooks) hooks.push(done);
  else done();
}

/** Statements to send in one message with the COMMIT (see withCommit). */
const withCommitStatements = new WeakMap<EntityManager, string[]>();

/**
 * Sends `sql` (with `params` written into it as literals) in the same message as the caller's
 * COMMIT, after the transaction's other work and its before-commit hooks. A row it locks is then
 * held only while PostgreSQL runs it and commits, never across a round trip to this process,
 * whose event loop may be slow to send the COMMIT under load (a host's row that every placement
 * and result wants is the case). A statement that fails rolls the whole transaction back, so one
 * that may be refused must raise (`hp_require`) rather than change nothing. Returns false outside
 * a Database.transaction, where the caller runs it at once.
 */
export function withCommit(em: EntityManager, sql: string, params: readonly unknown[]): boolean {
  const statements = withCommitStatements.get(em);
  if (!statements) return false;
  statements.push(inlineParams(sql, params));
  return true;
}

/**
 * `$n` in `sql` replaced by params[n-1] as a quoted literal, for the simple protocol (which
 * takes several statements in one message but no parameters). Values are written as node-pg
 * sends bound ones (text, arrays as `{…}`), so `$1::uuid[]` reads them the same way.
 */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= params.length) throw new Error(`inlineParams: no parameter $${n}`);
    const text = asText(params[i], n);
    return text === null ? 'NULL' : escapeLiteral(text);
  });
}

function asText(value: unknown, n: string): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) {
    const items = value.map((v) => {
      if (Array.isArray(v)) throw new Error(`inlineParams: parameter $${n} is a nested array`);
      const t = asText(v, n);
      return t === null ? 'NULL' : `"${t.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    });
    return `{${items.join(',')}}`;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`inlineParams: parameter $${n} is ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** Runs work in a transaction (READ COMMITTED; correctness comes from guarded UPDATEs). */
export class Database {
  constructor(readonly dataSource: DataSource) {}

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  async transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    const em = runner.manager;
    const hooks = new Map<string, Flush>();
    const committed: (() => void)[] = [];
    const last: string[] = [];
    let result: T;
    try {
      await runner.startTransaction();
      beforeCommit.set(em, hooks);
      afterCommitHooks.set(em, committed);
      withCommitStatements.set(em, last);
      result = await work(em);
      for (const flush of hooks.values()) await flush(em);
      if (last.length === 0) await runner.commitTransaction();
      // One message, simple protocol: a failing statement skips the COMMIT and leaves the
      // transaction aborted, rolled back below. The runner is released, not reused, after it.
      else await runner.query(`${last.join(';\n')};\nCOMMIT`);
    } catch (error) {
      try {
        await runner.rollbackTransaction();
      } catch {
        // the error that matters is the first
      }
      throw error;
    } finally {
      await runner.release();
    }
    // What was committed stays committed: a failing hook (a metric) must not turn it into an error.
    for (const done of committed) {
      try {
        done();
      } catch {
        // ignored
      }
    }
    return result;
  }

  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }
}

/** Column name → property name; the same few dozen names come back in every row. */
const camelNames = new Map<string, string>();

function camel(column: string): string {
  let name = camelNames.get(column);
  if (name === undefined) {
    name = column.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    if (camelNames.size < 10_000) camelNames.set(column, name);
  }
  return name;
}

/** Maps a raw row (snake_case) to the entity's property names (camelCase). */
export function fromRow<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const key in row) {
    const value = row[key];
    out[camel(key)] = MILLI_VCPU_COLUMNS.has(key) && value !== null && value !== undefined ? fromMilliVcpus(Number(value)) : value;
  }
  return out as T;
}

/** The SQLSTATE of a PostgreSQL error, if it is one. */
export function pgErrorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

export function pgConstraint(error: unknown): string | undefined {
  const e = error as { constraint?: unknown; driverError?: { constraint?: unknown } };
  const c = e?.driverError?.constraint ?? e?.constraint;
  return typeof c === 'string' ? c : undefined;
}

export function pgDetail(error: unknown): string | undefined {
  const e = error as { detail?: unknown; driverError?: { detail?: unknown } };
  const d = e?.driverError?.detail ?? e?.detail;
  return typeof d === 'string' ? d : undefined;
}

export const PG_UNIQUE_VIOLATION = '23505';
