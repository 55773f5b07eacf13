import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '@hyperplane/config';
import { AgentRepository } from '@hyperplane/db';
import { agentRedisUser, AgentRedisUsers } from '@hyperplane/queue';

export const API_REDIS = Symbol('API_REDIS');

/**
 * Agents' own Redis users, made and removed by the API over its administrative connection.
 * Whether they are used is decided once at start (HYPERPLANE_REDIS_AGENT_ACL). Users are made
 * again from PostgreSQL at start and whenever the connection comes back (a restarted Redis
 * without an ACL file has forgotten them): only the passwords' SHA-256 is needed for that.
 */
@Injectable()
export class AgentRedisService implements OnModuleInit {
  private readonly log = new Logger('agents');
  private readonly users: AgentRedisUsers;
  private on = false;

  constructor(
    private readonly config: AppConfig,
    @Inject(API_REDIS) private readonly redis: Redis,
    private readonly agents: AgentRepository,
  ) {
    this.users = new AgentRedisUsers(redis, config.HYPERPLANE_REDIS_PREFIX);
  }

  /** Whether agents get their own Redis users. */
  get enabled(): boolean {
    return this.on;
  }

  async onModuleInit(): Promise<void> {
    const mode = this.config.HYPERPLANE_REDIS_AGENT_ACL;
    if (mode === 'off') return;
    const supported = await this.users.supported();
    if (!supported) {
      if (mode === 'on') throw new Error('HYPERPLANE_REDIS_AGENT_ACL=on, but this Redis has no ACLs or REDIS_URL\'s user may not run ACL SETUSER');
      this.log.warn('agents share the API\'s Redis credential: this Redis has no ACLs or REDIS_URL\'s user may not run ACL SETUSER');
      return;
    }
    this.on = true;
    await this.restore();
    // The connection is up (restore ran on it), so every later 'ready' is a reconnection: to a
    // restarted Redis, or to the master Sentinel promoted, which may not know the users.
    this.redis.on('ready', () => {
      void this.restore().catch((e: unknown) => this.log.warn(`could not make agents' Redis users again: ${String(e)}`));
    });
  }

  private async restore(): Promise<void> {
    await this.users.putMany(await this.agents.withRedisUsers());
  }

  userFor(agentId: string): string {
    return agentRedisUser(this.config.HYPERPLANE_REDIS_PREFIX, agentId);
  }

  /** Makes (or replaces, with a new password) the agent's user; null when agents share the credential. */
  async put(agentId: string, passwordHash: string, opts: { disconnect?: boolean } = {}): Promise<string | null> {
    if (!this.on) return null;
    return this.users.put(agentId, passwordHash, opts);
  }

  async remove(agentId: string): Promise<void> {
    await this.users.remove(agentId);
  }
}
