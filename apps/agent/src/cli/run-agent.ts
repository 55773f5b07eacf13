import { Logger } from '@nestjs/common';
import { loadConfig, loadDotEnv } from '@hyperplane/config';
import { installAppLogger } from '@hyperplane/observability';
import { agentOptions, startAgent } from '../agent.bootstrap';

export interface RunAgentOptions {
  /** Read the environment from this file (what `install` wrote) rather than ./.env. */
  envFile?: string;
  /**
   * Stop when stdin closes. Windows has no SIGTERM: its service wrapper closes the agent's
   * stdin to ask it to stop.
   */
  stopOnStdinClose?: boolean;
}

/** The agent as a long-running process: `npm run start:agent`, `hyperplane-agent run`, the services. */
export async function runAgentProcess(o: RunAgentOptions = {}): Promise<void> {
  if (o.envFile) process.loadEnvFile(o.envFile);
  else loadDotEnv();
  const config = loadConfig();
  installAppLogger(config);
  if (!config.REDIS_URL) throw new Error('the agent needs REDIS_URL');
  const agent = await startAgent(agentOptions({ ...config, REDIS_URL: config.REDIS_URL }));
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    new Logger('agent').log(`stopping (${why})`);
    void agent.stop().finally(() => process.exit(0));
  };
  // SIGTERM: systemd and launchd; SIGINT: Ctrl+C everywhere; SIGBREAK: Ctrl+Break on Windows.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGBREAK', 'SIGHUP'] as const) process.once(signal, () => stop(signal));
  if (o.stopOnStdinClose) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('close', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin closed'));
    process.stdin.resume();
  }
}

export function runAgentMain(o: RunAgentOptions = {}): void {
  runAgentProcess(o).catch((e: unknown) => {
    new Logger('agent').fatal(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
