import { Redis } from 'ioredis';
import { heartbeatKey } from './heartbeat.store';
import { agentHostQueuePrefix, agentResultsQueueName } from './job-names';
import { isCluster, redisNodes } from './redis-connection';

/** The Redis user of one agent; the key prefix keeps installations that share a Redis apart. */
export function agentRedisUser(prefix: string, agentId: string): string {
  return `${prefix}-agent-${agentId}`;
}

/**
 * What an agent's Redis user may do: every command but the dangerous ones (FLUSHALL, KEYS,
 * CONFIG, CLIENT KILL, ACL SETUSER, …), plus INFO (ioredis's ready check and BullMQ's version
 * check), and not SCAN or RANDOMKEY (key names are not restricted by key patterns), nor
 * FUNCTION or SCRIPT FLUSH/KILL (server-wide); on three key patterns only — three, however many
 * hosts the agent has, since Redis checks patterns one by one:
 * - its hosts' queues, `host-<agentId>-*` (BullMQ's Lua scripts declare their keys, and
 *   since Redis 7 every redis.call in a script is checked against the caller's patterns);
 * - its own results queue, `agent-results-<agentId>:*`;
 * - its own heartbeat set.
 * No Pub/Sub channels. The password is given as its SHA-256 (`#<hex>`), which is all we keep.
 */
export function agentAclRules(prefix: string, agentId: string, passwordSha256: string): string[] {
  return [
    'reset',
    'on',
    `#${passwordSha256}`,
    'resetchannels',
    `~${prefix}:${agentHostQueuePrefix(agentId)}*`,
    `~${prefix}:${agentResultsQueueName(agentId)}:*`,
    `~${heartbeatKey(prefix, agentId)}`,
    '+@all',
    '-@dangerous',
    '+info',
    '-scan',
    '-randomkey',
    '-function',
    '-script|flush',
    '-script|kill',
  ];
}

/**
 * Makes and removes agents' Redis users over an administrative connection (the API's). All
 * Redis ACL commands of Hyperplane live here. ACLs are per server, not replicated: on a
 * Redis Cluster every command here runs on every node, masters and replicas (so a replica
 * promoted by a failover already knows the users); behind Sentinel they run on the master,
 * and the API makes them again when its connection comes back (to the new master).
 */
export class AgentRedisUsers {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /**
   * Whether this connection can make users: the Redis knows ACLs (6 or newer) and lets this
   * connection's user run ACL SETUSER. Tried with a throw-away user, removed at once; throws
   * when Redis does not answer.
   */
  async supported(): Promise<boolean> {
    const probe = `${this.prefix}-acl-probe-${process.pid}-${Date.now()}`;
    try {
      await this.ready();
      for (const node of redisNodes(this.redis)) {
        await node.call('ACL', 'SETUSER', probe, 'reset', 'off');
        await node.call('ACL', 'DELUSER', probe);
      }
      return true;
    } catch (e) {
      // Redis answered no (unknown command, NOPERM): no users here. Any other failure (Redis
      // unreachable) is not an answer, and must not quietly leave agents sharing a credential.
      if ((e as Error).name === 'ReplyError') return false;
      throw e;
    }
  }

  /** Creates or replaces the agent's user (a new password included); its other connections are closed. */
  async put(agentId: string, passwordSha256: string, opts: { disconnect?: boolean } = {}): Promise<string> {
    const user = agentRedisUser(this.prefix, agentId);
    const nodes = redisNodes(this.redis);
    await Promise.all(nodes.map((node) => node.call('ACL', 'SETUSER', user, ...agentAclRules(this.prefix, agentId, passwordSha256))));
    // Redis keeps connections that authenticated with an old password: close them.
    if (opts.disconnect) await Promise.all(nodes.map((node) => node.call('CLIENT', 'KILL', 'USER', user).catch(() => undefined)));
    return user;
  }

  /** A cluster client knows its nodes once it is ready. */
  private async ready(): Promise<void> {
    if (!isCluster(this.redis) || this.redis.status === 'ready') return;
    await new Promise<void>((done, failed) => {
      const timer = setTimeout(() => failed(new Error('Redis did not become ready')), 30_000);
      this.redis.once('ready', () => (clearTimeout(timer), done()));
    });
  }

  /** Makes the users of these agents again (after a Redis restart without an ACL file). */
  async putMany(agents: { id: string; redisPasswordHash: string }[]): Promise<void> {
    await this.ready();
    for (const node of redisNodes(this.redis)) await this.putManyOn(node, agents);
  }

  private async putManyOn(node: Redis, agents: { id: string; redisPasswordHash: string }[]): Promise<void> {
    for (let i = 0; i < agents.length; i += 500) {
      const pipeline = node.pipeline();
      for (const a of agents.slice(i, i + 500)) pipeline.call('ACL', 'SETUSER', agentRedisUser(this.prefix, a.id), ...agentAclRules(this.prefix, a.id, a.redisPasswordHash));
      const answers = (await pipeline.exec()) ?? [];
      const failed = answers.find(([e]) => e);
      if (failed) throw failed[0]!;
    }
  }

  /** Removes the agent's user and closes its connections. */
  async remove(agentId: string): Promise<void> {
    const user = agentRedisUser(this.prefix, agentId);
    for (const node of redisNodes(this.redis)) {
      await node.call('ACL', 'DELUSER', user);
      await node.call('CLIENT', 'KILL', 'USER', user).catch(() => undefined); // none connected
    }
  }
}

/** Removes every agent user of a prefix (a test's or a benchmark's own) from every node; returns how many. */
export async function deleteAgentRedisUsers(redis: Redis, prefix: string): Promise<number> {
  let removed = 0;
  for (const node of redisNodes(redis)) {
    const users = (await node.call('ACL', 'USERS')) as string[];
    const mine = users.filter((u) => u.startsWith(`${prefix}-agent-`));
    for (const u of mine) await node.call('ACL', 'DELUSER', u);
    removed = Math.max(removed, mine.length);
  }
  return removed;
}
