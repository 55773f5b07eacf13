import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication, INestApplicationContext } from '@nestjs/common';
import { AppConfig, loadConfig } from '@hyperplane/config';
import { createApiApp, ResolvedConfig } from '@hyperplane/api';
import { startController } from '@hyperplane/controller';
import { AgentRuntime } from '@hyperplane/agent';
import { deleteRedisPrefix } from '@hyperplane/queue';
import { ADMIN, call, createBenchDatabase } from './bench-stack';
import { stopLocalInstances, stopOnSignal } from './processes';

export interface LocalBenchStack {
  url: string;
  hostId: string;
  agent: AgentRuntime;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * api + controller + an agent for this machine (local: true, no simulated hosts), on a fresh
 * database and Redis prefix (both removed by stop()), once its host is ready with `drivers`.
 */
export async function startLocalBenchStack(opts: {
  /** Names the database, the Redis prefix and the data directory. */
  name: string;
  config: Partial<AppConfig>;
  /** Drivers this host must offer, or the bench stops with their reasons. */
  drivers: string[];
  syncIntervalMs: number;
}): Promise<LocalBenchStack> {
  const redisUrl = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379';
  const prefix = `hpb${opts.name}${randomBytes(3).toString('hex')}`;
  const database = await createBenchDatabase(`bench_${opts.name}`);
  const dbUrl = database.url;
  const dataDir = mkdtempSync(join(tmpdir(), `hp-bench-${opts.name}-`));
  let api: INestApplication | undefined;
  let controller: INestApplicationContext | undefined;
  let agent: AgentRuntime | undefined;
  const stopNow = async (): Promise<void> => {
    await agent?.stop().catch(() => undefined);
    await stopLocalInstances(dataDir);
    await controller?.close().catch(() => undefined);
    await api?.close().catch(() => undefined);
    await deleteRedisPrefix(redisUrl, prefix).catch(() => undefined);
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  // Stopped by a signal (a timeout, kill), the bench still removes its containers, VMs, database
  // and keys. Ctrl-C is the bench's own to handle (host-idle cleans up through the API first).
  const stop = stopOnSignal(stopNow, ['SIGTERM']);
  try {
    const config = {
      ...loadConfig({}),
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl,
      HYPERPLANE_REDIS_PREFIX: prefix,
      HYPERPLANE_ADMIN_TOKEN: ADMIN,
      HYPERPLANE_MIGRATE: false,
      LOG_LEVEL: 'warn',
      ...opts.config,
    } as ResolvedConfig;
    api = await createApiApp(config);
    await api.listen(0, '127.0.0.1');
    const url = `http://127.0.0.1:${(api.getHttpServer().address() as { port: number }).port}`;
    controller = await startController(config);
    const enroll = await call<{ token: string }>(url, 'POST', '/v1/enrollment-tokens', { name: `bench ${opts.name}` });
    agent = new AgentRuntime({
      apiUrl: url,
      enrollmentToken: enroll.body.token,
      dataDir,
      redis: { url: redisUrl, prefix },
      local: true,
      simHosts: [],
      sim: { timeScale: 1, seed: 1 },
      heartbeatIntervalMs: config.HYPERPLANE_HEARTBEAT_INTERVAL_S * 1000,
      syncIntervalMs: opts.syncIntervalMs,
      lockDuration: config.HYPERPLANE_JOB_LOCK_MS,
    });
    await agent.start();
    const hostId = agent.hostIds[0];
    if (!hostId) throw new Error('the agent enrolled no host');
    for (let i = 0; ; i++) {
      const r = await call(url, 'GET', `/v1/hosts/${hostId}`);
      if (r.body.status === 'ready') {
        const broken = opts.drivers.filter((n) => !r.body.drivers.some((d: any) => d.name === n && d.installed));
        if (broken.length) throw new Error(`this host cannot run ${broken.join(' and ')}: ${JSON.stringify(r.body.drivers.map((d: any) => [d.name, d.error ?? 'ok']))}`);
        break;
      }
      if (i > 150) throw new Error(`host ${hostId} is ${r.body.status}, not ready`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { url, hostId, agent, dataDir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
