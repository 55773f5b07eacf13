import { fromMilliVcpus } from '@hyperplane/domain';
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

/** Runs work in a transaction (READ COMMITTED; correctness comes from guarded UPDATEs). */
export class Database {
  constructor(readonly dataSource: DataSource) {}

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  async transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    let committed: (() => void)[] = [];
    const result = await this.dataSource.transaction(async (em) => {
      const hooks = new Map<string, Flush>();
      beforeCommit.set(em, hooks);
      committed = [];
      afterCommitHooks.set(em, committed);
      const out = await work(em);
      for (const flush of hooks.values()) await flush(em);
      return out;
    });
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
