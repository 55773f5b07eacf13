import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { loadConfig, loadDotEnv } from '@hyperplane/config';
import { installAppLogger } from '@hyperplane/observability';
import { TokenRepository } from '@hyperplane/db';
import { startApi } from '@hyperplane/api';
import { startController } from '@hyperplane/controller';
import { agentOptions, startAgent } from '@hyperplane/agent';
import { createHash, randomBytes } from 'node:crypto';
import { findOrStartPostgres, findOrStartRedis } from './local-services';

const log = new Logger('all-in-one');

/** api + controller + an agent for this machine (and simulated hosts when asked), one process. */
async function main(): Promise<void> {
  loadDotEnv();
  const env = loadConfig();
  installAppLogger(env);
  const postgres = await findOrStartPostgres(env.HYPERPLANE_DATA_DIR, env.DATABASE_URL);
  const redis = await findOrStartRedis(env.HYPERPLANE_DATA_DIR, env.REDIS_URL);
  const config = { ...env, DATABASE_URL: postgres.url, REDIS_URL: redis.url };

  const { app: api, url } = await startApi(config);
  const controller = await startController({ ...config, HYPERPLANE_MIGRATE: false });

  // The all-in-one enrolls its own agent: a single-use enrollment token, made directly.
  const secret = `hpe_${randomBytes(32).toString('base64url')}`;
  await api.get(TokenRepository).insertEnrollmentToken({
    id: randomUUID(),
    name: 'all-in-one local agent',
    secretHash: createHash('sha256').update(secret).digest('hex'),
    maxHosts: config.HYPERPLANE_SIM_HOSTS + 1,
    expiresAt: new Date(Date.now() + 10 * 60_000),
    createdBy: null,
  });
  const agent = await startAgent(agentOptions(config, { apiUrl: url, enrollmentToken: secret }));
  log.log(`ready: ${url}/docs — ${agent.hostIds.length} host(s) enrolled`);

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

main().catch((e: unknown) => {
  log.fatal(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
