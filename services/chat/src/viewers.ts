import { AppError, type Clients } from '@livehouse/kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { StreamInfo } from './room.ts';

/** Sums a stream's connections over every chat instance and picks one instance to report them. */
export interface ViewerCounter {
  /** Records this instance's count; returns the total and whether this instance is the stream's reporter. */
  count(streamId: string, instanceId: string, local: number): Promise<{ total: number; reporter: boolean }>;
}

/** One instance: its own count is the total. */
export class LocalViewerCounter implements ViewerCounter {
  async count(_streamId: string, _instanceId: string, local: number) {
    return { total: local, reporter: true };
  }
}

/*
 * KEYS: the stream's hash (instance → "count:ms"), its reporter lock. ARGV: instance, count, stale ms.
 * Counts older than `stale` (a crashed instance) are dropped; the lock expires the same way, so
 * another instance takes over reporting.
 */
const COUNT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. string.format('%d', now))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], stale)
local all = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #all, 2 do
  local c, at = string.match(all[i + 1], '^(%d+):(%d+)$')
  if at and now - tonumber(at) <= stale then total = total + tonumber(c) else redis.call('HDEL', KEYS[1], all[i]) end
end
local owner = redis.call('GET', KEYS[2])
if not owner or owner == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', stale)
  return {total, 1}
end
return {total, 0}
`;

type WithCount = Redis & { chatViewers(...args: (string | number)[]): Promise<[number, number]> };

export class RedisViewerCounter implements ViewerCounter {
  readonly #redis: WithCount;
  readonly #key: (streamId: string, suffix: string) => string;
  readonly #staleMs: number;

  constructor(redis: Redis, key: (streamId: string, suffix: string) => string, staleMs: number) {
    this.#redis = redis as WithCount;
    this.#redis.defineCommand('chatViewers', { numberOfKeys: 2, lua: COUNT });
    this.#key = key;
    this.#staleMs = staleMs;
  }

  async count(streamId: string, instanceId: string, local: number) {
    const [total, reporter] = await this.#redis.chatViewers(
      this.#key(streamId, 'viewers'),
      this.#key(streamId, 'viewers:reporter'),
      instanceId,
      local,
      this.#staleMs,
    );
    return { total, reporter: reporter === 1 };
  }
}

/**
 * Every few seconds: each live room's total goes to contents (`PUT /streams/:id/viewers`), by
 * one instance per stream, and only when it changed.
 */
export class ViewerReporter {
  readonly #counter: ViewerCounter;
  readonly #contents: Clients['contents'];
  readonly #logger: FastifyBaseLogger;
  readonly #instanceId: string;
  readonly #reported = new Map<string, number>();
  readonly #totals = new Map<string, number>();

  constructor(counter: ViewerCounter, contents: Clients['contents'], logger: FastifyBaseLogger, instanceId: string) {
    this.#counter = counter;
    this.#contents = contents;
    this.#logger = logger;
    this.#instanceId = instanceId;
  }

  lastTotal(streamId: string) {
    return this.#totals.get(streamId);
  }

  async report(rooms: readonly { info: StreamInfo; count: number }[]) {
    await Promise.all(
      rooms.map(async ({ info, count }) => {
        const { total, reporter } = await this.#counter.count(info.streamId, this.#instanceId, count);
        if (count === 0) this.#totals.delete(info.streamId);
        else this.#totals.set(info.streamId, total);
        if (!reporter || info.state !== 'live') {
          this.#reported.delete(info.streamId);
          return;
        }
        if (this.#reported.get(info.streamId) === total) return;
        try {
          await this.#contents.setViewers({ params: { id: info.streamId }, body: { count: total } });
          this.#reported.set(info.streamId, total);
        } catch (err) {
          // The stream ended meanwhile (409) or contents is down: the next round tries again.
          if (!(err instanceof AppError && err.status === 409)) {
            this.#logger.warn({ err, streamId: info.streamId }, 'viewer count not reported');
          }
        }
        if (count === 0) this.#reported.delete(info.streamId);
      }),
    );
  }
}
