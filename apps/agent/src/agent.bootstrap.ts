import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppConfig } from '@hyperplane/config';
import { SimFaults } from '@hyperplane/drivers';
import { AgentOptions, AgentRuntime } from './agent.runtime';
import { simFleet } from './sim/sim-fleet';

/** `create.transient=0.02,start.fatal=0.001` → { create: { transient: 0.02 }, start: { fatal: 0.001 } }. */
export function parseFaults(spec: string): SimFaults {
  const faults: Record<string, { transient?: number; fatal?: number }> = {};
  for (const part of spec.split(',').filter(Boolean)) {
    const m = /^([a-z]+)\.(transient|fatal)=([0-9.]+)$/.exec(part);
    if (!m) throw new Error(`bad fault ${part}`);
    faults[m[1]!] = { ...faults[m[1]!], [m[2]!]: Number(m[3]) };
  }
  return faults;
}

export function agentOptions(config: AppConfig & { REDIS_URL: string }, overrides: Partial<AgentOptions> = {}): AgentOptions {
  // One CA for both channels (https:// API, rediss:// Redis) when they use a private one.
  const tlsCa = config.HYPERPLANE_TLS_CA_FILE ? readFileSync(config.HYPERPLANE_TLS_CA_FILE, 'utf8') : undefined;
  return {
    apiUrl: config.HYPERPLANE_API_URL,
    enrollmentToken: config.HYPERPLANE_ENROLLMENT_TOKEN,
    dataDir: resolve(join(config.HYPERPLANE_DATA_DIR, 'agent')),
    redis: { url: config.REDIS_URL, prefix: config.HYPERPLANE_REDIS_PREFIX, ...(tlsCa ? { tlsCa } : {}) },
    ...(tlsCa ? { tlsCa } : {}),
    local: config.HYPERPLANE_LOCAL_AGENT,
    simHosts: simFleet(config.HYPERPLANE_SIM_HOSTS),
    sim: { timeScale: config.HYPERPLANE_SIM_TIME_SCALE, faults: parseFaults(config.HYPERPLANE_SIM_FAULTS), seed: config.HYPERPLANE_SIM_SEED },
    heartbeatIntervalMs: config.HYPERPLANE_HEARTBEAT_INTERVAL_S * 1000,
    ha: { leaseMs: config.HYPERPLANE_HA_LEASE_MS, safetyMs: config.HYPERPLANE_HA_FENCE_SAFETY_MS },
    syncIntervalMs: 30_000,
    orphanSweepMs: config.HYPERPLANE_ORPHAN_SWEEP_S * 1000,
    lockDuration: config.HYPERPLANE_JOB_LOCK_MS,
    listen: { port: config.HYPERPLANE_AGENT_PORT, bind: config.HYPERPLANE_METRICS_BIND },
    ...overrides,
  };
}

export async function startAgent(options: AgentOptions): Promise<AgentRuntime> {
  const agent = new AgentRuntime(options);
  await agent.start();
  return agent;
}
