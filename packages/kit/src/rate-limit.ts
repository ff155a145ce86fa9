import type { Redis } from 'ioredis';
import { AppError } from './errors.ts';

export interface RateLimit {
  /** Most hits allowed in one window. */
  max: number;
  windowMs: number;
}

export interface RateLimitResult {
  allowed: boolean;
  remaining: number;
  retryAfterMs: number;
  /** The limit that was applied, for the RateLimit-Policy header. */
  limit: RateLimit;
}

/** Fixed-window counters: in memory for one process, in Redis when several pods share the limit. */
export interface RateLimiter {
  hit(key: string, limit: RateLimit): Promise<RateLimitResult>;
  reset(key: string): Promise<void>;
}

export class MemoryRateLimiter implements RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  async hit(key: string, limit: RateLimit): Promise<RateLimitResult> {
    const now = Date.now();
    let w = this.#windows.get(key);
    if (!w || w.resetAt <= now) {
      if (this.#windows.size > 100_000) this.#sweep(now);
      w = { count: 0, resetAt: now + limit.windowMs };
      this.#windows.set(key, w);
    }
    w.count++;
    return {
      allowed: w.count <= limit.max,
      remaining: Math.max(0, limit.max - w.count),
      retryAfterMs: w.resetAt - now,
      limit,
    };
  }

  async reset(key: string) {
    this.#windows.delete(key);
  }

  #sweep(now: number) {
    for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k);
  }
}

// INCR and set the expiry on the first hit, atomically; returns the count and the time left.
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {count, ttl}`;

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix = 'livehouse:ratelimit:') {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async hit(key: string, limit: RateLimit): Promise<RateLimitResult> {
    const [count, ttl] = (await this.#redis.eval(HIT_SCRIPT, 1, this.#prefix + key, limit.windowMs)) as [
      number,
      number,
    ];
    return {
      allowed: count <= limit.max,
      remaining: Math.max(0, limit.max - count),
      retryAfterMs: ttl > 0 ? ttl : limit.windowMs,
      limit,
    };
  }

  async reset(key: string) {
    await this.#redis.del(this.#prefix + key);
  }
}

/**
 * 429 with Retry-After and the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the policy (quota per
 * window) and what is left of it, so a client can pace itself instead of retrying blindly.
 */
export function rateLimited(result: RateLimitResult, what: string) {
  const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  const windowSeconds = Math.max(1, Math.ceil(result.limit.windowMs / 1000));
  return new AppError('rate_limited', `too many ${what}; try again in ${seconds} s`, {
    headers: {
      'retry-after': String(seconds),
      ratelimit: `"default";r=${result.remaining};t=${seconds}`,
      'ratelimit-policy': `"default";q=${result.limit.max};w=${windowSeconds}`,
    },
  });
}
