import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { HostInventory } from '@hyperplane/domain';
import { AgentEntity, AgentRepository, Database, HOST_NAME_INDEX, HostRepository, InstanceRepository, TokenRepository, Tx } from '@hyperplane/db';
import { agentResultsQueueName, hostQueueName } from '@hyperplane/queue';
import { problems } from '../common/problem';
import { hashSecret, newSecret } from '../auth/secrets';
import { AgentRedisService } from './agent-redis.service';

export interface EnrolledHost {
  id: string;
  name: string;
  /** The only queue this host's agent consumes for it. */
  queue: string;
}

/** The agent's own Redis user (shown once); null when agents share REDIS_URL's credential. */
export interface AgentRedisCredential {
  username: string;
  password: string;
}

export interface Enrollment {
  agentId: string;
  /** The agent's credential for later calls (shown once). */
  credential: string;
  redis: AgentRedisCredential | null;
  /** Where the agent reports results, progress and what it finds on its hosts. */
  resultsQueue: string;
  hosts: EnrolledHost[];
}

export interface Rotation {
  agentId: string;
  credential: string;
  redis: AgentRedisCredential | null;
}

/** A unique violation of the host name index (from the driver, however wrapped). */
export function isTakenHostName(e: unknown): boolean {
  const err = e as { constraint?: string; driverError?: { constraint?: string } };
  return err?.constraint === HOST_NAME_INDEX || err?.driverError?.constraint === HOST_NAME_INDEX;
}

@Injectable()
export class AgentService {
  constructor(
    private readonly db: Database,
    private readonly tokens: TokenRepository,
    private readonly hosts: HostRepository,
    private readonly agents: AgentRepository,
    private readonly redis: AgentRedisService,
    private readonly instances: InstanceRepository,
  ) {}

  /** Whether an enrollment token could enroll a host now (its host limit is checked at enrollment). */
  async enrollmentTokenUsable(secret: string): Promise<boolean> {
    const token = await this.tokens.findEnrollmentToken(hashSecret(secret));
    return !!token && !token.revokedAt && (!token.expiresAt || token.expiresAt.getTime() > Date.now());
  }

  /** The agent a credential belongs to, or null: unknown, rotated or revoked (every agent route authenticates through this). */
  agentForCredential(secret: string): Promise<AgentEntity | null> {
    return this.agents.findByCredentialHash(hashSecret(secret));
  }

  /** Joins hosts to the fleet with an enrollment token; they become ready on their first heartbeat. */
  async enroll(secret: string, inventories: HostInventory[]): Promise<Enrollment> {
    const token = await this.tokens.findEnrollmentToken(hashSecret(secret));
    if (!token) throw problems.unauthorized('unknown enrollment token');
    await this.refuseTakenNames(inventories.map((i) => i.hostname));
    const agentId = randomUUID();
    const credential = newSecret('agent');
    const redisPassword = newSecret('agent');
    const enrolled = inventories.map((inv) => ({ id: randomUUID(), name: inv.hostname, queue: hostQueueName(agentId, '') }));
    let redisUser: string | null = null;
    try {
      await this.db.transaction(async (em) => {
        const redisPasswordHash = this.redis.enabled ? hashSecret(redisPassword) : null;
        redisUser = redisPasswordHash ? this.redis.userFor(agentId) : null;
        await this.agents.insert(em, { id: agentId, credentialHash: hashSecret(credential), redisUser, redisPasswordHash, enrollmentTokenId: token.id });
        await this.insertHosts(em, agentId, token.id, enrolled, inventories);
        // Last, so that a refused enrollment makes no user; a user made for a transaction that
        // then fails to commit has no agent row and is never given out.
        if (redisPasswordHash) await this.redis.put(agentId, redisPasswordHash);
      });
    } catch (e) {
      // Another enrollment took a name meanwhile: say which host has it.
      if (isTakenHostName(e)) await this.refuseTakenNames(inventories.map((i) => i.hostname));
      throw e;
    }
    return {
      agentId,
      credential,
      redis: redisUser ? { username: redisUser, password: redisPassword } : null,
      resultsQueue: agentResultsQueueName(agentId),
      hosts: enrolled.map((h) => ({ ...h, queue: hostQueueName(agentId, h.id) })),
    };
  }

  /**
   * More hosts for an agent that enrolled already (an agent sends its hosts in pages), counted
   * against the enrollment token that enrolled it.
   */
  async enrollMore(credential: string, inventories: HostInventory[]): Promise<EnrolledHost[]> {
    const agent = await this.agentForCredential(credential);
    if (!agent) throw problems.unauthorized('the agent credential is unknown or revoked');
    const tokenId = agent.enrollmentTokenId;
    if (!tokenId) throw problems.forbidden('this agent was not enrolled with an enrollment token that can take more hosts');
    await this.refuseTakenNames(inventories.map((i) => i.hostname));
    const enrolled = inventories.map((inv) => ({ id: randomUUID(), name: inv.hostname }));
    try {
      await this.db.transaction((em) => this.insertHosts(em, agent.id, tokenId, enrolled, inventories));
    } catch (e) {
      if (isTakenHostName(e)) await this.refuseTakenNames(inventories.map((i) => i.hostname));
      throw e;
    }
    return enrolled.map((h) => ({ ...h, queue: hostQueueName(agent.id, h.id) }));
  }

  private async insertHosts(em: Tx, agentId: string, tokenId: string, enrolled: { id: string }[], inventories: HostInventory[]): Promise<void> {
    if (!(await this.tokens.useEnrollmentToken(em, tokenId, inventories.length))) {
      throw problems.forbidden('the enrollment token is revoked, expired, or has no hosts left');
    }
    await this.hosts.insertMany(
      inventories.map((inventory, i) => ({ id: enrolled[i]!.id, name: inventory.hostname, inventory, agentId, enrollmentTokenId: tokenId })),
      em,
    );
  }

  /** Replaces the inventory of hosts that this agent credential enrolled. */
  async report(credential: string, reports: { hostId: string; inventory: HostInventory }[]): Promise<void> {
    const agent = await this.agentForCredential(credential);
    if (!agent) throw problems.unauthorized('unknown agent credential');
    const owned = await this.hosts.byIds(reports.map((r) => r.hostId));
    const mine = new Set(owned.filter((h) => h.agentId === agent.id).map((h) => h.id));
    const foreign = reports.find((r) => !mine.has(r.hostId));
    if (foreign) throw problems.unauthorized(`the credential does not belong to host ${foreign.hostId}`);
    for (const r of reports) await this.hosts.updateInventory(r.hostId, r.inventory);
  }

  /**
   * HA fencing: what each of the agent's hosts holds that now lives elsewhere (on another host,
   * or deleted: `foreign`, to destroy without starting), and which instances the database places
   * on it with HA (`ha`, to fence when the lease is lost).
   */
  async assignments(credential: string, holdings: { hostId: string; instanceIds: string[] }[]): Promise<{ hosts: { hostId: string; foreign: string[]; ha: string[] }[] }> {
    const agent = await this.agentForCredential(credential);
    if (!agent) throw problems.unauthorized('unknown agent credential');
    const owned = await this.hosts.byIds(holdings.map((r) => r.hostId));
    const mine = new Set(owned.filter((h) => h.agentId === agent.id).map((h) => h.id));
    const notMine = holdings.find((r) => !mine.has(r.hostId));
    if (notMine) throw problems.unauthorized(`the credential does not belong to host ${notMine.hostId}`);
    const where = await this.instances.hostsOf(holdings.flatMap((h) => h.instanceIds));
    const ha = await this.instances.haOnHosts(holdings.map((h) => h.hostId));
    return {
      hosts: holdings.map((h) => ({
        hostId: h.hostId,
        foreign: h.instanceIds.filter((id) => where.get(id) !== h.hostId),
        ha: ha.filter((x) => x.hostId === h.hostId).map((x) => x.id),
      })),
    };
  }

  /**
   * A new credential and a new Redis password for the agent presenting its credential; the old
   * ones stop working at once (the Redis user's open connections are closed).
   */
  async rotate(credential: string): Promise<Rotation> {
    const oldHash = hashSecret(credential);
    const agent = await this.agents.findByCredentialHash(oldHash);
    if (!agent) throw problems.unauthorized('unknown agent credential');
    const next = newSecret('agent');
    const redisPassword = newSecret('agent');
    const redisPasswordHash = this.redis.enabled ? hashSecret(redisPassword) : null;
    const redisUser = redisPasswordHash ? this.redis.userFor(agent.id) : null;
    if (!(await this.agents.rotate(agent.id, oldHash, { credentialHash: hashSecret(next), redisUser, redisPasswordHash }))) {
      throw problems.unauthorized('the credential was rotated at the same time by another request');
    }
    // After the row: should Redis fail here, the user is made again from the row's hash.
    if (redisPasswordHash) await this.redis.put(agent.id, redisPasswordHash, { disconnect: true });
    return { agentId: agent.id, credential: next, redis: redisUser ? { username: redisUser, password: redisPassword } : null };
  }

  private async refuseTakenNames(names: string[]): Promise<void> {
    const seen = new Set<string>();
    const twice = names.find((n) => seen.size === seen.add(n).size);
    if (twice) throw problems.badField('hosts', `host name ${twice} appears twice`);
    const taken = await this.hosts.withNames(names);
    if (taken.length > 0) {
      const first = taken[0]!;
      throw problems.conflict(`host name ${first.name} is taken by host ${first.id}${taken.length > 1 ? ` (and ${taken.length - 1} more)` : ''}; remove or rename it first`, {
        hosts: taken.slice(0, 100),
      });
    }
  }
}
