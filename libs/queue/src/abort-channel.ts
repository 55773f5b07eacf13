import { Redis } from 'ioredis';
import { agentAbortKey } from './job-names';
import { createRedis, endRedis, RedisSettings } from './redis-connection';

/** Abort signals nobody read are dropped after this (the agent was away; its work ended anyway). */
const ABORT_TTL_S = 3600;
/** A blocking read returns this often, so that close() never waits long. */
const BLOCK_S = 1;

/** Tells an agent to stop the host work of an operation (the controller's side). */
export async function sendAbort(redis: Redis, prefix: string, agentId: string, operationId: string): Promise<void> {
  const key = agentAbortKey(prefix, agentId);
  await redis.multi().rpush(key, operationId).expire(key, ABORT_TTL_S).exec();
}

/**
 * Reads an agent's abort signals (the agent's side) on a connection of its own, blocked in
 * BLPOP on the agent's abort list: a signal arrives within a round trip, and an idle agent
 * costs one blocked connection.
 */
export class AbortListener {
  private closed = false;
  private readonly loop: Promise<void>;
  private readonly redis: Redis;

  constructor(settings: RedisSettings, agentId: string, onAbort: (operationId: string) => void, onError: (e: Error) => void = () => undefined) {
    const redis = (this.redis = createRedis(settings, 'agent-aborts'));
    redis.on('error', () => undefined); // ioredis reconnects; errors surface on calls
    const key = agentAbortKey(settings.prefix, agentId);
    this.loop = (async () => {
      while (!this.closed) {
        try {
          const got = await redis.blpop(key, BLOCK_S);
          if (got) onAbort(got[1]);
        } catch (e) {
          if (this.closed) break;
          onError(e as Error);
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();
  }

  async close(): Promise<void> {
    this.closed = true;
    // The blocking read returns within BLOCK_S and the loop ends; a Redis that does not answer
    // is not waited for longer than that.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise<void>((r) => (timer = setTimeout(r, BLOCK_S * 1000 + 1000)))]);
    clearTimeout(timer);
    endRedis(this.redis);
  }
}
