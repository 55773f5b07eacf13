import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { INestApplication, INestApplicationContext } from '@nestjs/common';
import { Client, Pool } from 'pg';
import { AppConfig, loadConfig, redisKeyPrefix } from '@hyperplane/config';
import { Arch, OsFamily, Resources } from '@hyperplane/domain';
import { createApiApp, ResolvedConfig } from '@hyperplane/api';
import { startController } from '@hyperplane/controller';
import { AgentOptions, AgentRuntime, SimHostSpec } from '@hyperplane/agent';
import { deleteRedisPrefix } from '@hyperplane/queue';
import { ApiClient } from './api-client';

export const REDIS_URL = process.env.HYPERPLANE_TEST_REDIS ?? 'redis://127.0.0.1:6379';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A copy of the run's migrated template database, for one suite. */
export async function freshDatabase(): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const template = process.env.HYPERPLANE_TEST_TEMPLATE_DB;
  const adminUrl = process.env.HYPERPLANE_TEST_PG;
  if (!template || !adminUrl) throw new Error('integration tests run under jest --selectProjects integration (global setup)');
  const name = `${template}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  await admin.end();
  return {
    name,
    url: adminUrl.replace(/\/[^/]*$/, `/${name}`),
    drop: async () => {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Removes every key of a Redis prefix (each suite has its own), and the agents' Redis users named after it. */
export const dropRedisPrefix = deleteRedisPrefix;

export function simHost(key: string, os: OsFamily, arch: Arch, extra: Partial<SimHostSpec> = {}): SimHostSpec {
  const kernels: Record<OsFamily, { osVersion: string; kernel: string }> = {
    linux: { osVersion: 'Debian GNU/Linux 12 (bookworm)', kernel: '6.1.0-25-amd64' },
    windows: { osVersion: 'Windows Server 2022 Datacenter', kernel: '10.0.20348' },
    macos: { osVersion: 'macOS 15.1', kernel: '24.1.0' },
  };
  const capacity: Resources = { vcpus: 32, memoryMiB: 131072, diskGiB: 2000 };
  return { key, os, arch, ...kernels[os], capacity, ...extra };
}

/** Linux (x86_64 and arm64), Windows Server 2022 and 2019, and macOS hosts. */
export const MIXED_FLEET: SimHostSpec[] = [
  simHost('lin-x86-1', 'linux', 'x86_64'),
  simHost('lin-x86-2', 'linux', 'x86_64'),
  simHost('lin-arm-1', 'linux', 'arm64'),
  simHost('win-2022-1', 'windows', 'x86_64'),
  simHost('win-2019-1', 'windows', 'x86_64', { osVersion: 'Windows Server 2019 Datacenter', kernel: '10.0.17763' }),
  simHost('mac-1', 'macos', 'arm64', { capacity: { vcpus: 12, memoryMiB: 65536, diskGiB: 1000 } }),
];

export interface StackOptions {
  simHosts?: SimHostSpec[];
  timeScale?: number;
  local?: boolean;
  config?: Partial<AppConfig>;
  agent?: Partial<AgentOptions>;
  /** Start no agent (the test starts its own). */
  noAgent?: boolean;
  /** Start no controller (the test starts it with startController()). */
  noController?: boolean;
  /** Another Redis than the shared one (tests that FLUSHALL, a cluster, Sentinel). */
  redisUrl?: string;
  /**
   * The pool's URL made from the suite's direct database URL (e.g. through PgBouncer); the
   * direct one then becomes HYPERPLANE_DATABASE_SESSION_URL.
   */
  poolUrl?: (directUrl: string) => string;
}

export interface Stack {
  config: ResolvedConfig;
  url: string;
  client: ApiClient;
  api: INestApplication;
  controller: INestApplicationContext | null;
  agent: AgentRuntime | null;
  redisUrl: string;
  /** Direct SQL for assertions. */
  sql: Pool;
  dataDir: string;
  startAgent(options?: Partial<AgentOptions>): Promise<AgentRuntime>;
  /** Makes an enrollment token for an agent the test runs itself. */
  enrollmentToken(maxHosts?: number): Promise<string>;
  startController(): Promise<INestApplicationContext>;
  stopController(): Promise<void>;
  waitForHosts(count: number, timeoutMs?: number): Promise<any[]>;
  stop(): Promise<void>;
}

export function testConfig(db: string, prefix: string, overrides: Partial<AppConfig> = {}, redisUrl = REDIS_URL): ResolvedConfig {
  return {
    ...loadConfig({}),
    DATABASE_URL: db,
    REDIS_URL: redisUrl,
    HYPERPLANE_REDIS_PREFIX: prefix,
    PORT: 0,
    HYPERPLANE_ADMIN_TOKEN: ADMIN_TOKEN,
    HYPERPLANE_MIGRATE: false,
    LOG_LEVEL: 'error',
    HYPERPLANE_HEARTBEAT_INTERVAL_S: 1,
    HYPERPLANE_HEARTBEAT_TIMEOUT_S: 4,
    HYPERPLANE_RECONCILE_INTERVAL_S: 2,
    HYPERPLANE_JOB_LOCK_MS: 4000,
    // Suites send wrong tokens on purpose, all from 127.0.0.1; the throttle has its own test.
    HYPERPLANE_AUTH_FAILURES_PER_MINUTE: 0,
    ...overrides,
  };
}

/** api + controller (+ an agent for simulated hosts) in this process, on a fresh database and Redis prefix. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const db = await freshDatabase();
  const redisUrl = opts.redisUrl ?? REDIS_URL;
  // A hash tag on a cluster, as loadConfig makes it.
  const prefix = redisKeyPrefix(redisUrl, `hpt${randomBytes(4).toString('hex')}`);
  const pooled = opts.poolUrl ? { HYPERPLANE_DATABASE_SESSION_URL: db.url } : {};
  const config = testConfig(opts.poolUrl ? opts.poolUrl(db.url) : db.url, prefix, { ...pooled, ...opts.config }, redisUrl);
  const api = await createApiApp(config);
  await api.listen(0, '127.0.0.1');
  const port = (api.getHttpServer().address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  let controller = opts.noController ? null : await startController(config);
  const client = new ApiClient(url, ADMIN_TOKEN);
  const sql = new Pool({ connectionString: db.url, max: 4, application_name: 'hyperplane-test' });
  // An idle client of this pool may still be open when stop() drops the database WITH (FORCE);
  // its "terminating connection" must not surface as an unhandled error in the suite.
  sql.on('error', () => undefined);
  const dataDir = mkdtempSync(join(tmpdir(), 'hp-agent-'));
  const agents: AgentRuntime[] = [];

  const stack: Stack = {
    config,
    url,
    client,
    api,
    controller,
    agent: null,
    redisUrl,
    sql,
    dataDir,
    async enrollmentToken(maxHosts?: number): Promise<string> {
      const enroll = await client.post('/v1/enrollment-tokens', { name: 'test agent', ...(maxHosts ? { maxHosts } : {}) });
      if (enroll.status !== 201) throw new Error(`enrollment token: ${enroll.status} ${JSON.stringify(enroll.body)}`);
      return enroll.body.token;
    },
    async startController(): Promise<INestApplicationContext> {
      controller = await startController(config);
      stack.controller = controller;
      return controller;
    },
    async stopController(): Promise<void> {
      await controller?.close();
      controller = null;
      stack.controller = null;
    },
    async startAgent(options: Partial<AgentOptions> = {}): Promise<AgentRuntime> {
      const agent = new AgentRuntime({
        apiUrl: url,
        enrollmentToken: await stack.enrollmentToken(Math.max(100, (options.simHosts ?? opts.simHosts ?? MIXED_FLEET).length + 1)),
        dataDir,
        redis: { url: redisUrl, prefix },
        local: opts.local ?? false,
        simHosts: opts.simHosts ?? MIXED_FLEET,
        sim: { timeScale: opts.timeScale ?? 0.01, seed: 1 },
        heartbeatIntervalMs: 500,
        syncIntervalMs: 60_000,
        lockDuration: config.HYPERPLANE_JOB_LOCK_MS,
        ...opts.agent,
        ...options,
      });
      agents.push(agent); // stopped with the stack even if start() fails half way
      await agent.start();
      return agent;
    },
    async waitForHosts(count: number, timeoutMs = 20_000): Promise<any[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await client.get('/v1/hosts?status=ready&limit=500');
        if (r.body.items?.length >= count) return r.body.items;
        if (Date.now() > deadline) throw new Error(`only ${r.body.items?.length ?? 0} of ${count} hosts ready`);
        await new Promise((res) => setTimeout(res, 200));
      }
    },
    async stop(): Promise<void> {
      for (const a of agents) await a.stop().catch(() => undefined);
      await controller?.close().catch(() => undefined);
      await api.close().catch(() => undefined);
      await sql.end().catch(() => undefined);
      await dropRedisPrefix(redisUrl, prefix).catch(() => undefined);
      await db.drop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  if (!opts.noAgent) {
    try {
      stack.agent = await stack.startAgent();
      await stack.waitForHosts((opts.simHosts ?? MIXED_FLEET).length + (opts.local ? 1 : 0));
    } catch (e) {
      // Leave nothing running behind a failed start, or the Jest worker never exits.
      await stack.stop();
      throw e;
    }
  }
  return stack;
}

/** Whether every host's allocations equal the sums of the claims of the instances on it. */
export async function allocationsMatchClaims(stack: Stack): Promise<boolean> {
  const { rows } = await stack.sql.query(`
    SELECT bool_and(ok) AS ok FROM (
      SELECT h.alloc_vcpus = COALESCE(SUM(i.claim_vcpus), 0) AND h.alloc_memory_mib = COALESCE(SUM(i.claim_memory_mib), 0)
         AND h.alloc_disk_gib = COALESCE(SUM(i.claim_disk_gib), 0) AND h.alloc_instances = COUNT(i.id) AS ok
      FROM hosts h LEFT JOIN instances i ON i.host_id = h.id GROUP BY h.id) t`);
  return rows[0].ok;
}
