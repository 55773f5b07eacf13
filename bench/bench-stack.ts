import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication, INestApplicationContext } from '@nestjs/common';
import { Client } from 'pg';
import { loadConfig } from '@hyperplane/config';
import { createApiApp, ResolvedConfig } from '@hyperplane/api';
import { Reconciler, startController } from '@hyperplane/controller';
import { AgentOptions, SimHostSpec } from '@hyperplane/agent';
import { migrateDatabase } from '@hyperplane/db';
import { deleteRedisPrefix } from '@hyperplane/queue';

export const ADMIN = 'bench-admin-token-0123456789';

export interface BenchStack {
  url: string;
  config: ResolvedConfig;
  api: INestApplication;
  controllers: INestApplicationContext[];
  /** Operations the controllers' reconcilers sent again as stalled or lost (0 when nothing stalls). */
  requeued(): number;
  stop(): Promise<void>;
}

/** A fresh database for one bench run, migrated, and how to drop it (BENCH_PG names the server). */
export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const admin = process.env.BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `hp_${label}_${Date.now()}_${randomBytes(2).toString('hex')}`;
  const onAdmin = async (sql: string): Promise<void> => {
    const c = new Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await onAdmin(`CREATE DATABASE "${name}"`);
  const drop = () => onAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  const url = admin.replace(/\/[^/]*$/, `/${name}`);
  try {
    await migrateDatabase(url);
  } catch (error) {
    await drop().catch(() => undefined);
    throw error;
  }
  return { name, url, drop };
}

/**
 * api + controller(s) in this process, and one agent for the simulated hosts in a child process
 * (sim-agent.ts), on a fresh database (dropped at the end) and a fresh Redis prefix.
 */
export async function startBenchStack(opts: { hosts: SimHostSpec[]; timeScale: number; controllers?: number; agentConcurrency?: number }): Promise<BenchStack> {
  const db = await createBenchDatabase('bench');
  const url = db.url;
  const prefix = `hpb${randomBytes(3).toString('hex')}`;
  const config = {
    ...loadConfig({}),
    DATABASE_URL: url,
    REDIS_URL: process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379',
    HYPERPLANE_REDIS_PREFIX: prefix,
    HYPERPLANE_ADMIN_TOKEN: ADMIN,
    HYPERPLANE_MIGRATE: false,
    LOG_LEVEL: (process.env.LOG_LEVEL as 'warn') ?? 'warn',
    HYPERPLANE_HEARTBEAT_INTERVAL_S: 2,
    HYPERPLANE_HEARTBEAT_TIMEOUT_S: 30,
  } as ResolvedConfig;
  const api = await createApiApp(config);
  await api.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(api.getHttpServer().address() as { port: number }).port}`;
  const controllers: INestApplicationContext[] = [];
  for (let i = 0; i < (opts.controllers ?? 1); i++) controllers.push(await startController(config));

  const enroll = await fetch(`${base}/v1/enrollment-tokens`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
    // Made tokens enroll 100 hosts unless told otherwise; a bench fleet may be thousands.
    body: JSON.stringify({ name: 'bench', maxHosts: Math.max(1, opts.hosts.length) }),
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-bench-'));
  const options: AgentOptions = {
    apiUrl: base,
    enrollmentToken: ((await enroll.json()) as { token: string }).token,
    dataDir,
    redis: { url: config.REDIS_URL, prefix },
    local: false,
    simHosts: opts.hosts,
    // The simulated hosts keep their state in memory: a real host writes it on its own disk, not
    // on the control plane's two cores.
    sim: { timeScale: opts.timeScale, seed: 1, persist: false },
    heartbeatIntervalMs: 2000,
    syncIntervalMs: 600_000,
    lockDuration: 30_000,
    concurrency: opts.agentConcurrency ?? 8,
  };
  const agent = fork(join(__dirname, 'sim-agent.js'), [], { stdio: 'inherit' });
  agent.send(options);
  const [ready] = (await Promise.race([once(agent, 'message'), once(agent, 'exit')])) as unknown[];
  if (ready !== 'ready') throw new Error(`the simulated fleet's agent exited (${String(ready)})`);
  // Wait until every host is ready.
  for (;;) {
    const r = await fetch(`${base}/v1/hosts?status=ready&limit=500`, { headers: { Authorization: `Bearer ${ADMIN}` } });
    const body = (await r.json()) as { items: unknown[]; nextCursor: string | null };
    if (body.items.length >= Math.min(500, opts.hosts.length)) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  return {
    url: base,
    config,
    api,
    controllers,
    requeued: () => controllers.reduce((n, c) => n + c.get(Reconciler).requeued, 0),
    async stop() {
      agent.send('stop');
      await once(agent, 'exit');
      for (const c of controllers) await c.close();
      await api.close();
      rmSync(dataDir, { recursive: true, force: true });
      // Completed jobs are kept for an hour; a benchmark's are of no use after it.
      await deleteRedisPrefix(config.REDIS_URL, prefix);
      await db.drop();
    },
  };
}

export async function call<T = any>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${ADMIN}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as T };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Runs `work(i)` for i in [0, n) with at most `width` at once. */
export async function pool(n: number, width: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await work(next++);
    }),
  );
}
