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
