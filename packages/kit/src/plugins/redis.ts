import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import { MemoryRateLimiter, type RateLimiter, RedisRateLimiter } from '../rate-limit.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process's one Redis client (from `redis.url`), shared by limiters, the event bus and the service. */
    redis: Redis | undefined;
    /** `redis.keyPrefix`: goes before every key the kit writes. */
    redisKeyPrefix: string;
    /** A rate limiter under `prefix`: in Redis (shared by every pod) when `redis.url` is set, else per process. */
    limiter(prefix: string): RateLimiter;
  }
}

/**
 * One Redis client per service, made from config: whatever needs Redis takes it from here, so a service
 * with `redis.url` cannot end up with a per-process limiter by forgetting to pass a handle.
 */
export const redisPlugin = fp<{ url: string | undefined; keyPrefix: string | undefined; client?: Redis | undefined }>(
  async (app, options) => {
    let owned: Redis | undefined;
    if (!options.client && options.url) {
      // Commands fail after 5 s rather than queueing forever while Redis is away.
      owned = new Redis(options.url, { commandTimeout: 5000, maxRetriesPerRequest: 2, enableAutoPipelining: true });
      let last = '';
      owned.on('error', (err: Error) => {
        // ioredis reconnects by itself and repeats the error each attempt: log each new one once.
        if (err.message !== last) app.log.warn({ err: err.message }, 'redis connection error');
        last = err.message;
      });
      owned.on('ready', () => {
        last = '';
      });
    }
    const redis = options.client ?? owned;
    const keyPrefix = options.keyPrefix ?? '';
    app.decorate('redis', redis);
    app.decorate('redisKeyPrefix', keyPrefix);
    app.decorate('limiter', (prefix: string) =>
      redis ? new RedisRateLimiter(redis, keyPrefix + prefix) : new MemoryRateLimiter(),
    );
    app.addHook('onClose', async () => {
      await owned?.quit().catch(() => owned?.disconnect());
    });
  },
  { name: 'livehouse-redis', fastify: '5.x' },
);
