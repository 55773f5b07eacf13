import IORedis, { Redis, RedisOptions } from 'ioredis';
import { deleteAgentRedisUsers } from './agent-acl';

export interface RedisSettings {
  /** `redis://` or `rediss://` (TLS). */
  url: string;
  /** Prefix of every key Hyperplane writes. */
  prefix: string;
  /** An agent's own Redis user (given at enrollment); they win over any user in the URL. */
  username?: string;
  password?: string;
  /** PEM certificates to trust for `rediss://` (a private CA); the system's otherwise. */
  tlsCa?: string;
}

/** What `settings` adds to ioredis's options besides the URL: the agent's user, and TLS's CA. */
export function redisAuthOptions(settings: RedisSettings): RedisOptions {
  const out: RedisOptions = {};
  if (settings.username !== undefined) out.username = settings.username;
  if (settings.password !== undefined) out.password = settings.password;
  // ioredis turns TLS on by itself for rediss://; a CA only makes sense there.
  if (settings.tlsCa && /^rediss:\/\//i.test(settings.url)) out.tls = { ca: settings.tlsCa };
  return out;
}

/**
 * A connection for BullMQ. `maxRetriesPerRequest: null` is what BullMQ needs for workers; a
 * Redis that restarts is reconnected to, with backoff, forever.
 */
export function createRedis(settings: RedisSettings, name: string, extra: RedisOptions = {}): Redis {
  const client: Redis = new IORedis(settings.url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName: `hyperplane-${name}`,
    // Once ended (endRedis), the next attempt gives up: ioredis then fails what it held.
    retryStrategy: (times) => (ending.has(client) ? null : Math.min(times * 200, 5_000)),
    ...redisAuthOptions(settings),
    ...extra,
  });
  return client;
}

const ending = new WeakSet<Redis>();

/**
 * Closes a connection without waiting for Redis, and makes the commands it still holds fail.
 * ioredis's disconnect() between two reconnection attempts (Redis down, or refusing our user
 * after a rotation) cancels the next attempt but keeps the queued commands pending forever; so
 * then the next attempt is left to run, and createRedis's retry strategy ends it (≤ 5 s).
 */
export function endRedis(client: Redis): void {
  ending.add(client);
  if (client.status !== 'reconnecting') client.disconnect();
}

/** Deletes every key under `prefix` (a test's or a benchmark's own), and its agents' Redis users; returns how many keys. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  const redis = new IORedis(url, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 10_000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    // A Redis without ACLs has no users to remove.
    await deleteAgentRedisUsers(redis, prefix).catch(() => undefined);
  } finally {
    redis.disconnect();
  }
  return deleted;
}
