/**
 * Which Redis topology REDIS_URL names. One variable says it all, so that an agent's
 * `--redis-url` and an install plan carry the topology with the address:
 *
 * - `redis://[user:pass@]host[:port][/db]`, `rediss://…` (TLS): one Redis (the default);
 * - `redis+cluster://[user:pass@]host:port[,host:port…]`, `rediss+cluster://…`: a Redis
 *   Cluster, given by one or more seed nodes (the rest are discovered);
 * - `redis+sentinel://[user:pass@]host:port[,host:port…]/<master>[/db][?sentinelUsername=&sentinelPassword=]`,
 *   `rediss+sentinel://…`: the master Sentinel names `<master>`, found through these
 *   Sentinels. user:pass are the data nodes' credential; the Sentinels' own go in the query.
 */
export type RedisMode = 'single' | 'cluster' | 'sentinel';

export interface RedisEndpoint {
  host: string;
  port: number;
}

export interface ParsedRedisUrl {
  mode: RedisMode;
  tls: boolean;
  nodes: RedisEndpoint[];
  username?: string;
  password?: string;
  db?: number;
  /** Sentinel only: the name of the master set. */
  masterName?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
}

export class RedisUrlError extends Error {}

const URL_RE = /^(rediss?)(?:\+(cluster|sentinel))?:\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i;
const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;

function endpoint(text: string, defaultPort: number): RedisEndpoint {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new RedisUrlError(`bad host:port "${text}"`);
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (!(port >= 1 && port <= 65535)) throw new RedisUrlError(`bad port in "${text}"`);
  return { host: (m[1] ?? m[2])!, port };
}

function dbNumber(text: string): number {
  if (!/^\d{1,2}$/.test(text)) throw new RedisUrlError(`bad database number "${text}"`);
  return Number(text);
}

/** Parses REDIS_URL; throws a RedisUrlError that says what is wrong. */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  const m = URL_RE.exec(url);
  if (!m) throw new RedisUrlError('REDIS_URL must look like redis://host:port, redis+cluster://h1:p1,h2:p2 or redis+sentinel://s1:p1,s2:p2/master');
  const [, scheme, kind, userinfo, hosts, path, query] = m;
  const mode: RedisMode = kind ? (kind.toLowerCase() as RedisMode) : 'single';
  const out: ParsedRedisUrl = { mode, tls: scheme!.toLowerCase() === 'rediss', nodes: [] };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    const pass = colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1));
    // redis://:password@host is the password alone (the default user).
    if (pass === undefined) out.password = user;
    else {
      if (user) out.username = user;
      out.password = pass;
    }
  }
  const list = (hosts ?? '').split(',').filter((h) => h !== '');
  if (list.length === 0) throw new RedisUrlError('REDIS_URL names no host');
  out.nodes = list.map((h) => endpoint(h, mode === 'sentinel' ? 26379 : 6379));
  if (mode === 'single' && out.nodes.length > 1) throw new RedisUrlError('several hosts need redis+cluster:// or redis+sentinel://');
  const parts = (path ?? '').split('/').filter((p) => p !== '');
  if (mode === 'single') {
    if (parts.length > 1) throw new RedisUrlError('redis:// takes at most a database number as its path');
    if (parts[0] !== undefined) out.db = dbNumber(parts[0]);
  } else if (mode === 'cluster') {
    // A cluster has only database 0.
    if (parts.length > 0) throw new RedisUrlError('redis+cluster:// takes no path (a cluster has only database 0)');
  } else {
    if (parts.length < 1 || parts.length > 2) throw new RedisUrlError('redis+sentinel:// needs the master name as its path: redis+sentinel://s1:26379,s2:26379/mymaster');
    if (!NAME_RE.test(parts[0]!)) throw new RedisUrlError(`bad master name "${parts[0]}"`);
    out.masterName = parts[0]!;
    if (parts[1] !== undefined) out.db = dbNumber(parts[1]);
  }
  for (const pair of (query ?? '').split('&').filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    if (mode === 'sentinel' && key === 'sentinelUsername') out.sentinelUsername = value;
    else if (mode === 'sentinel' && key === 'sentinelPassword') out.sentinelPassword = value;
    else throw new RedisUrlError(`unknown REDIS_URL option "${key}"`);
  }
  return out;
}

/**
 * The key prefix to use on this Redis. On a cluster every key a multi-key command or a Lua
 * script touches must hash to one slot; BullMQ's scripts take many keys of a queue, and the
 * agent's multiplexed consumer blocks on (BZPOPMIN) and sweeps the keys of many queues at
 * once. So on a cluster the whole prefix is a hash tag, `{hp}`: all of one installation's keys
 * live in one slot (one master and its replicas). Several installations (prefixes) spread
 * over the masters. Elsewhere the prefix is used as given.
 */
export function redisKeyPrefix(url: string | undefined, prefix: string): string {
  if (!url || !/^rediss?\+cluster:/i.test(url)) return prefix;
  return /\{[^}]+\}/.test(prefix) ? prefix : `{${prefix}}`;
}
