import { Redis } from 'ioredis';

/**
 * Heartbeats go to one Redis sorted set (host id → last beat in ms): an agent standing in for
 * thousands of simulated hosts beats for all of them in one command, and the controller reads
 * them all in one. PostgreSQL gets the result in batches, not one write per beat.
 */
export class HeartbeatStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private get key(): string {
    return `${this.prefix}:heartbeats`;
  }

  async beat(hostIds: readonly string[], at = Date.now()): Promise<void> {
    if (hostIds.length === 0) return;
    const args: (string | number)[] = [];
    for (const id of hostIds) args.push(at, id);
    await this.redis.zadd(this.key, ...args);
  }

  async readAll(): Promise<Map<string, number>> {
    const flat = await this.redis.zrange(this.key, 0, -1, 'WITHSCORES');
    const beats = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) beats.set(flat[i]!, Number(flat[i + 1]));
    return beats;
  }

  /** Last beats of some hosts (absent: never heard from since Redis started). */
  async scores(hostIds: readonly string[]): Promise<Map<string, number>> {
    const beats = new Map<string, number>();
    if (hostIds.length === 0) return beats;
    const scores = await this.redis.zmscore(this.key, ...hostIds);
    hostIds.forEach((id, i) => {
      const s = scores[i];
      if (s !== null && s !== undefined) beats.set(id, Number(s));
    });
    return beats;
  }

  async forget(hostIds: readonly string[]): Promise<void> {
    if (hostIds.length > 0) await this.redis.zrem(this.key, ...hostIds);
  }
}
