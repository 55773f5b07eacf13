import IORedis, { Redis, RedisOptions } from 'ioredis';

export interface RedisSettings {
  url: string;
  /** Prefix of every key Hyperplane writes. */
  prefix: string;
}

/**
 * A connection for BullMQ. `maxRetriesPerRequest: null` is what BullMQ needs for workers; a
 * Redis that restarts is reconnected to, with backoff, forever.
 */
export function createRedis(settings: RedisSettings, name: string, extra: RedisOptions = {}): Redis {
  return new IORedis(settings.url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName: `hyperplane-${name}`,
    retryStrategy: (times) => Math.min(times * 200, 5_000),
    ...extra,
  });
}

/** Deletes every key under `prefix` (a test's or a benchmark's own); returns how many. */
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
  } finally {
    redis.disconnect();
  }
  return deleted;
}
