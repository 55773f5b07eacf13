import { Redis } from 'ioredis';
import { agentHostQueuePrefix } from './job-names';

/**
 * The HA lease of one host: a Redis key with a PX time-to-live that the host's agent sets
 * again with every heartbeat. It lives under the agent's host-queue prefix, so the agent's
 * Redis user (agent-acl.ts) may write it with no new key pattern, and no other agent can.
 * Redis decides when it expires, on its own clock: neither the agent's nor the controller's
 * wall clock is compared with another's (see apps/controller/src/ha/README.md).
 */
export function leaseKey(prefix: string, agentId: string, hostId: string): string {
  return `${prefix}:${agentHostQueuePrefix(agentId)}lease:${hostId}`;
}

/** The controller's note of the earliest time a lost host's HA instances may run elsewhere. */
export function restartAfterKey(prefix: string, hostId: string): string {
  return `${prefix}:ha:restart-after:${hostId}`;
}

/** The hosts that have a restart-after note (so notes of hosts that came back are always dropped). */
export function notedHostsKey(prefix: string): string {
  return `${prefix}:ha:noted`;
}

export class LeaseStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Agent: (re)takes the leases of its hosts for `leaseMs` (one pipelined round trip). Throws when Redis did not take them all. */
  async renew(agentId: string, hostIds: readonly string[], leaseMs: number): Promise<void> {
    if (hostIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of hostIds) pipeline.set(leaseKey(this.prefix, agentId, id), String(leaseMs), 'PX', leaseMs);
    const answers = (await pipeline.exec()) ?? [];
    const failed = answers.find(([e]) => e);
    if (failed) throw failed[0]!;
    if (answers.length !== hostIds.length) throw new Error('Redis did not answer every lease renewal');
  }

  /** Controller: each host's lease time left in ms, or null when the lease is gone (expired, or never taken since Redis started). */
  async remaining(hosts: readonly { id: string; agentId: string }[]): Promise<Map<string, number | null>> {
    const left = new Map<string, number | null>();
    if (hosts.length === 0) return left;
    const pipeline = this.redis.pipeline();
    for (const h of hosts) pipeline.pttl(leaseKey(this.prefix, h.agentId, h.id));
    const answers = (await pipeline.exec()) ?? [];
    hosts.forEach((h, i) => {
      const [error, ttl] = answers[i] ?? [new Error('no answer'), null];
      if (error) throw error;
      const ms = Number(ttl);
      // -2: no such key; -1: a key without expiry (never written so): treat as held for a whole lease.
      left.set(h.id, ms === -2 ? null : ms);
    });
    return left;
  }

  /** Controller: the restart-after times noted for these hosts (ms since the epoch), when noted. */
  async restartAfter(hostIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (hostIds.length === 0) return out;
    const values = await this.redis.mget(...hostIds.map((id) => restartAfterKey(this.prefix, id)));
    hostIds.forEach((id, i) => {
      const v = values[i];
      if (v !== null && v !== undefined && Number.isFinite(Number(v))) out.set(id, Number(v));
    });
    return out;
  }

  /**
   * Controller: notes a restart-after time unless one is noted already (the first note wins:
   * the later of two controllers' notes would only delay), kept a day at most. Answers the time in force.
   */
  async noteRestartAfter(hostId: string, at: number): Promise<number> {
    const key = restartAfterKey(this.prefix, hostId);
    await this.redis.sadd(notedHostsKey(this.prefix), hostId);
    const set = await this.redis.set(key, String(at), 'PX', 86_400_000, 'NX');
    if (set === 'OK') return at;
    const v = await this.redis.get(key);
    return v === null ? at : Number(v);
  }

  /** Controller: raises a noted time (a lease seen held again pushes the restart later). */
  async raiseRestartAfter(hostId: string, at: number): Promise<void> {
    const key = restartAfterKey(this.prefix, hostId);
    const v = await this.redis.get(key);
    if (v === null || Number(v) < at) await this.redis.set(key, String(at), 'PX', 86_400_000);
  }

  /** Controller: the hosts with a note. */
  notedHosts(): Promise<string[]> {
    return this.redis.smembers(notedHostsKey(this.prefix));
  }

  /** Controller: the host beats again (or is gone): its note is dropped. */
  async clearRestartAfter(hostIds: readonly string[]): Promise<void> {
    if (hostIds.length === 0) return;
    await this.redis.del(...hostIds.map((id) => restartAfterKey(this.prefix, id)));
    await this.redis.srem(notedHostsKey(this.prefix), ...hostIds);
  }
}
