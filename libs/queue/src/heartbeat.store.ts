import { Redis } from 'ioredis';

/** The sorted set one agent's hosts beat into (host id → last beat in ms). */
export function heartbeatKey(prefix: string, agentId: string): string {
  return `${prefix}:heartbeats:${agentId}`;
}

/**
 * Heartbeats go to one Redis sorted set per agent: an agent standing in for thousands of
 * simulated hosts beats for all of them in one command, and the controller reads each agent's
 * in one. The set is the agent's own (its Redis user may write no other), so an agent cannot
 * keep another's dead host alive nor make a live one look dead; a host id beaten into the
 * wrong agent's set is never read. PostgreSQL gets the result in batches, not one write per beat.
 */
export class HeartbeatStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async beat(agentId: string, hostIds: readonly string[], at = Date.now()): Promise<void> {
    if (hostIds.length === 0) return;
    const args: (string | number)[] = [];
    for (const id of hostIds) args.push(at, id);
    await this.redis.zadd(heartbeatKey(this.prefix, agentId), ...args);
  }

  /** Last beats of some hosts, each read from its own agent's set (absent: never heard from since Redis started). */
  async scores(hosts: readonly { id: string; agentId: string }[]): Promise<Map<string, number>> {
    const beats = new Map<string, number>();
    if (hosts.length === 0) return beats;
    const byAgent = new Map<string, string[]>();
    for (const h of hosts) {
      const ids = byAgent.get(h.agentId);
      if (ids) ids.push(h.id);
      else byAgent.set(h.agentId, [h.id]);
    }
    const pipeline = this.redis.pipeline();
    for (const [agentId, ids] of byAgent) pipeline.zmscore(heartbeatKey(this.prefix, agentId), ...ids);
    const answers = (await pipeline.exec()) ?? [];
    [...byAgent.values()].forEach((ids, i) => {
      const [error, scores] = answers[i] ?? [new Error('no answer'), null];
      if (error) throw error;
      ids.forEach((id, j) => {
        const s = (scores as (string | null)[])[j];
        if (s !== null && s !== undefined) beats.set(id, Number(s));
      });
    });
    return beats;
  }

  async forget(agentId: string, hostIds: readonly string[]): Promise<void> {
    if (hostIds.length > 0) await this.redis.zrem(heartbeatKey(this.prefix, agentId), ...hostIds);
  }

  /** An agent removed: its set goes with it. */
  async drop(agentId: string): Promise<void> {
    await this.redis.del(heartbeatKey(this.prefix, agentId));
  }
}
