import { Logger } from '@nestjs/common';
import { MIGRATIONS } from '@hyperplane/migrations';
import { AdvancedConsoleLogger, DataSource, QueryRunner } from 'typeorm';
import { ENTITIES } from './entities';
import { SQLSTATE_CLAIM_REFUSED } from './repositories/host.repository';
import { SQLSTATE_QUOTA_EXCEEDED } from './repositories/usage.repository';
import { SnakeNamingStrategy } from './snake-naming.strategy';

export interface DataSourceOptions {
  url: string;
  /** Connections in the pool. */
  poolSize?: number;
  applicationName?: string;
}

/** Refusals the caller handles: a quota's (the client's 409) and a claim that no longer fits (placed again). */
const EXPECTED_REFUSALS = new Set([SQLSTATE_QUOTA_EXCEEDED, SQLSTATE_CLAIM_REFUSED]);

/** Logs failed queries, except the refusals their callers handle, which are not faults. */
class QueryLogger extends AdvancedConsoleLogger {
  override logQueryError(error: string, query: string, parameters?: unknown[], queryRunner?: QueryRunner): void {
    if (EXPECTED_REFUSALS.has((error as unknown as { code?: string })?.code ?? '')) return;
    super.logQueryError(error, query, parameters, queryRunner);
  }
}

/**
 * A pooled connection that PostgreSQL ends (`pg_terminate_backend`, a restart, PgBouncer) may
 * emit 'error' more than once. TypeORM's query runner listens for the first and gives the client
 * back to the pool, which then listens only while a client is idle: a second 'error' (the
 * server's FATAL message after the socket error, or the other way round) had no listener and
 * killed the process (found by the chaos suite). Every client gets a listener for its lifetime;
 * the statement that used it fails, its transaction rolls back, and the pool makes a new one.
 */
export function survivePoolClientErrors(ds: DataSource): DataSource {
  const log = new Logger('db');
  eachPoolClient<{ on(event: 'error', listener: (e: Error) => void): void }>(ds, (client) => client.on('error', (e) => log.warn(`a database connection ended: ${e.message}`)));
  return ds;
}

/** Calls `fn` for every node-pg client of the data source's pool: those it has now and each it makes later. */
export function eachPoolClient<Client>(ds: DataSource, fn: (client: Client) => void): void {
  const pool = (ds.driver as unknown as { master?: { on(event: 'connect', listener: (client: Client) => void): void; _clients?: Client[] } }).master;
  pool?.on('connect', fn);
  // The clients made while initializing (TypeORM checks one out at once).
  for (const client of pool?._clients ?? []) fn(client);
}

/** The one way to reach PostgreSQL. Never `synchronize`: the schema comes from migrations. */
export function createDataSource(opts: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: opts.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    logging: ['error'],
    logger: new QueryLogger(['error']),
    applicationName: opts.applicationName ?? 'hyperplane',
    extra: { max: opts.poolSize ?? 20, idleTimeoutMillis: 30_000 },
  });
}

const MIGRATION_LOCK = 7_201_734_551;

/** Runs pending migrations; replicas starting together take turns on an advisory lock. */
export async function runMigrations(ds: DataSource): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const done = await ds.runMigrations({ transaction: 'all' });
    return done.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

/** SQL that would bring the schema in line with the entities; empty when there is no drift. */
export async function pendingSchemaChanges(ds: DataSource): Promise<{ up: string[]; down: string[] }> {
  const log = await ds.driver.createSchemaBuilder().log();
  return { up: log.upQueries.map((q) => q.query), down: log.downQueries.map((q) => q.query) };
}

/** Runs pending migrations on a short-lived connection; returns the names applied. */
export async function migrateDatabase(url: string): Promise<string[]> {
  const ds = survivePoolClientErrors(await createDataSource({ url, poolSize: 2, applicationName: 'hyperplane-migrate' }).initialize());
  try {
    return await runMigrations(ds);
  } finally {
    await ds.destroy();
  }
}
