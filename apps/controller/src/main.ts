import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig, loadDotEnv } from '@hyperplane/config';
import { installAppLogger } from '@hyperplane/observability';
import { startController } from './controller.bootstrap';

async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfig();
  installAppLogger(config);
  if (!config.DATABASE_URL || !config.REDIS_URL) throw new Error('the controller needs DATABASE_URL and REDIS_URL');
  await startController({ ...config, DATABASE_URL: config.DATABASE_URL, REDIS_URL: config.REDIS_URL });
}

main().catch((e: unknown) => {
  new Logger('controller').fatal(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
