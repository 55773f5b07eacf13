import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig, loadDotEnv } from '@hyperplane/config';
import { installAppLogger } from '@hyperplane/observability';
import { startApi } from './api.bootstrap';

async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfig();
  installAppLogger(config);
  if (!config.DATABASE_URL || !config.REDIS_URL) throw new Error('the api needs DATABASE_URL and REDIS_URL (npm start runs the all-in-one, which finds or starts them)');
  await startApi({ ...config, DATABASE_URL: config.DATABASE_URL, REDIS_URL: config.REDIS_URL });
}

main().catch((e: unknown) => {
  new Logger('api').fatal(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
