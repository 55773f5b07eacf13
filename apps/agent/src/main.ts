import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfig, loadDotEnv } from '@hyperplane/config';
import { installAppLogger } from '@hyperplane/observability';
import { agentOptions, startAgent } from './agent.bootstrap';

async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfig();
  installAppLogger(config);
  if (!config.REDIS_URL) throw new Error('the agent needs REDIS_URL');
  const agent = await startAgent(agentOptions({ ...config, REDIS_URL: config.REDIS_URL }));
  const stop = (): void => {
    void agent.stop().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  new Logger('agent').fatal(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
