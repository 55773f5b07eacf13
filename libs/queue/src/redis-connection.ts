import IORedis, { Cluster, Redis, RedisOptions } from 'ioredis';
import { parseRedisUrl } from '@hyperplane/config';
import { deleteAgentRedisUsers } from './agent-acl';

export interface RedisSettings {
  /**
   * `redis://` (one Redis), `redis+cluster://h1:p1,h2:p2` (a cluster's seed nodes) or
   * `redis+sentinel://s1:p1,s2:p2/master`; `rediss…` for TLS (see libs/config's redis-url).
   */
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

/** Whether this connection is a Redis Cluster client (then keyless commands go to one node). */
export function isCluster(client: Redis | Cluster): boolean {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * Every node to run a server-local command on (ACL SETUSER, CLIENT KILL, ACL USERS): each
 * master and replica of a cluster, else the one connection.
 */
export function redisNodes(client: Redis): Redis[] {
  return isCluster(client) ? (client as unknown as Cluster).nodes('all') : [client];
}

/**
 * A connection for BullMQ. `maxRetriesPerRequest: null` is what BullMQ needs for workers; a
 * Redis that restarts is reconnected to, with backoff, forever. The URL's scheme picks the
 * client: one Redis, a Cluster, or the master behind Sentinels. A Cluster client is returned
 * typed as Redis: it has the same commands (BullMQ takes either), and every key Hyperplane
 * writes shares one hash slot (redisKeyPrefix), so multi-key commands, scripts and pipelines
 * run on one node as on a single Redis.
 */
export function createRedis(settings: RedisSettings, name: string, extra: RedisOptions = {}): Redis {
  const parsed = parseRedisUrl(settings.url);
  // Once ended (endRedis), the next attempt gives up: ioredis then fails what it held.
  const retry = (times: number): number | null => (ending.has(client) ? null : Math.min(times * 200, 5_000));
  const tls = parsed.tls ? { tls: settings.tlsCa ? { ca: settings.tlsCa } : {} } : {};
  const common: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName: `hyperplane-${name}`,
    ...(parsed.username !== undefined ? { username: parsed.username } : {}),
    ...(parsed.password !== undefined ? { password: parsed.password } : {}),
    ...redisAuthOptions(settings),
    ...tls,
    ...extra,
  };
  let client: Redis;
  if (parsed.mode === 'cluster') {
    const cluster = new Cluster(parsed.nodes, {
      redisOptions: common,
      clusterRetryStrategy: retry,
      enableReadyCheck: true,
      // A failover moves slots: retry a command for a while rather than fail it at once.
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 200,
      maxRedirections: 32,
      slotsRefreshTimeout: 2_000,
    });
    client = cluster as unknown as Redis;
  } else if (parsed.mode === 'sentinel') {
    client = new IORedis({
      ...common,
      sentinels: parsed.nodes,
      name: parsed.masterName!,
      ...(parsed.db !== undefined ? { db: parsed.db } : {}),
      ...(parsed.sentinelUsername !== undefined ? { sentinelUsername: parsed.sentinelUsername } : {}),
      ...(parsed.sentinelPassword !== undefined ? { sentinelPassword: parsed.sentinelPassword } : {}),
      ...(parsed.tls ? { enableTLSForSentinelMode: true, sentinelTLS: settings.tlsCa ? { ca: settings.tlsCa } : {} } : {}),
      retryStrategy: retry,
      sentinelRetryStrategy: (times) => (ending.has(client) ? null : Math.min(times * 200, 5_000)),
    });
  } else {
    client = new IORedis(settings.url, { ...common, retryStrategy: retry });
  }
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
  const redis = createRedis({ url, prefix }, 'cleanup', { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    if (isCluster(redis)) await new Promise<void>((ready, failed) => (redis.once('ready', ready), redis.once('end', () => failed(new Error('Redis cluster unreachable')))));
    // SCAN is per node: on a cluster, walk each master (a prefix's keys share one slot, so
    // one of them holds them all, and UNLINK of keys of one slot is one command).
    const masters = isCluster(redis) ? (redis as unknown as Cluster).nodes('master') : [redis];
    // Glob-escape a hash-tagged prefix's braces are no glob characters; only * ? [ ] \ are.
    const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
    for (const node of masters) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 10_000);
        cursor = next;
        if (keys.length) deleted += await node.unlink(...keys);
      } while (cursor !== '0');
    }
    // A Redis without ACLs has no users to remove.
    await deleteAgentRedisUsers(redis, prefix).catch(() => undefined);
  } finally {
    endRedis(redis);
  }
  return deleted;
}
