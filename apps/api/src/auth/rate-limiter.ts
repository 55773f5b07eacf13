import type { Redis } from 'ioredis';
import { Problem, problems } from '../common/problem';

const WINDOW_S = 60;

// One round trip: count the request in the token's current window and give the window's TTL.
const COUNT = `local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return {n, redis.call('TTL', KEYS[1])}`;

export interface RateLimitHeaders {
  'RateLimit-Policy': string;
  RateLimit: string;
}

/**
 * Requests per minute per token, counted in Redis so every API process shares the count (a
 * fixed 60 s window per token). Headers follow draft-ietf-httpapi-ratelimit-headers.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly defaultPerMinute: number,
  ) {}

  /** Counts one request: the headers to send, and whether it is over (then a 429). `perMinute` null: the default; 0: off. */
  async take(tokenId: string, perMinute: number | null | undefined): Promise<{ headers: RateLimitHeaders; over: Problem | null } | null> {
    const limit = perMinute ?? this.defaultPerMinute;
    if (limit <= 0) return null;
    const window = Math.floor(Date.now() / 1000 / WINDOW_S);
    let count: number;
    let ttl: number;
    try {
      [count, ttl] = (await this.redis.eval(COUNT, 1, `${this.prefix}:ratelimit:${tokenId}:${window}`, WINDOW_S + 1)) as [number, number];
    } catch {
      // Redis away: serve rather than refuse everyone (the limit protects, it does not gate).
      return null;
    }
    const reset = Math.max(1, Math.min(WINDOW_S, ttl > 0 ? ttl : WINDOW_S));
    const headers = { 'RateLimit-Policy': `"per-token";q=${limit};w=${WINDOW_S}`, RateLimit: `"per-token";r=${Math.max(0, limit - count)};t=${reset}` };
    const over = count > limit ? problems.tooManyRequests(`the token made more than ${limit} requests in ${WINDOW_S} s; retry in ${reset} s`, reset) : null;
    return { headers, over };
  }
}
