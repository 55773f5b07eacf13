import 'reflect-metadata';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { AppConfig, loadConfig, loadDotEnv } from '@hyperplane/config';
import { installAppLogger } from '@hyperplane/observability';
import { HostRepository, TokenRepository } from '@hyperplane/db';
import { startApi, TokenService } from '@hyperplane/api';
import { HeartbeatWatcher, startController } from '@hyperplane/controller';
import { agentOptions, startAgent } from '@hyperplane/agent';
import { findOrStartPostgres, findOrStartRedis } from './local-services';
import { readyBanner } from './ready-banner';

const log = new Logger('all-in-one');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** api + controller + an agent for this machine (and simulated hosts when asked), one process. */
async function main(): Promise<void> {
  loadDotEnv();
  const env = loadConfig();
  installAppLogger(env);
  const postgres = await findOrStartPostgres(env.HYPERPLANE_DATA_DIR, env.DATABASE_URL);
  const redis = await findOrStartRedis(env.HYPERPLANE_DATA_DIR, env.REDIS_URL);
  const config = { ...env, DATABASE_URL: postgres.url, REDIS_URL: redis.url };

  const { app: api, url } = await startApi(config);
  // The API made the bootstrap admin token (or found one); the banner says which.
  const token = api.get(TokenService).bootstrapped;
  const controller = await startController({ ...config, HYPERPLANE_MIGRATE: false });

  // The all-in-one enrolls its own agent: a single-use enrollment token, made directly.
  const secret = `hpe_${randomBytes(32).toString('base64url')}`;
  await api.get(TokenRepository).insertEnrollmentToken({
    id: randomUUID(),
    name: 'all-in-one local agent',
    secretHash: sha256(secret),
    maxHosts: config.HYPERPLANE_SIM_HOSTS + 1,
    expiresAt: new Date(Date.now() + 10 * 60_000),
    createdBy: null,
  });
  const agent = await startAgent(agentOptions(config, { apiUrl: url, enrollmentToken: secret }));
  const ready = await untilReady(api.get(HostRepository), controller.get(HeartbeatWatcher), agent.hostIds, config);
  process.stdout.write(readyBanner({ url, hosts: agent.hostIds.length, ready, token }));

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.log('stopping');
    await agent.stop().catch(() => undefined);
    await controller.close().catch(() => undefined);
    await api.close().catch(() => undefined);
    await redis.stop();
    await postgres.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

/**
 * Waits until the agent's hosts are `ready` (they are `enrolling` until the controller sees
 * their first heartbeat), so that "ready" means a create can be placed at once. Bounded by the
 * heartbeat timeout; returns how many are ready.
 */
async function untilReady(hosts: HostRepository, watcher: HeartbeatWatcher, ids: string[], config: AppConfig): Promise<number> {
  const started = Date.now();
  const until = started + Math.max(10, config.HYPERPLANE_HEARTBEAT_TIMEOUT_S) * 1000;
  for (;;) {
    // The agent has beaten once already: look now rather than at the watcher's next tick.
    await watcher.tick();
    const ready = (await hosts.byIds(ids)).filter((h) => h.status === 'ready').length;
    if (ready === ids.length || Date.now() > until) {
      if (ready < ids.length) log.warn(`${ids.length - ready} of ${ids.length} host(s) not ready after ${Math.round((Date.now() - started) / 1000)} s; creates wait for them a while`);
      return ready;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

main().catch((e: unknown) => {
  log.fatal(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
