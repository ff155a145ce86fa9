import type { Redis } from 'ioredis';

/**
 * Caps on open sockets per holder (a user, a client address), across every chat instance. A socket
 * takes one slot of each of its holders before its upgrade and gives them back when it closes.
 */
export interface SocketSlots {
  /** Takes a slot in `key` for `socketId` unless `cap` are taken; false when full. */
  take(key: string, socketId: string, cap: number): Promise<boolean>;
  give(key: string, socketId: string): Promise<void>;
  /** Keeps the slots of live sockets from expiring (Redis: a crashed instance's slots do). */
  refresh(slots: Iterable<{ key: string; socketId: string }>): Promise<void>;
}

/** One process: the slots are its own sockets. */
export class LocalSocketSlots implements SocketSlots {
  readonly #taken = new Map<string, Set<string>>();

  async take(key: string, socketId: string, cap: number) {
    const taken = this.#taken.get(key) ?? new Set<string>();
    if (taken.size >= cap) return false;
    taken.add(socketId);
    this.#taken.set(key, taken);
    return true;
  }

  async give(key: string, socketId: string) {
    const taken = this.#taken.get(key);
    taken?.delete(socketId);
    if (taken?.size === 0) this.#taken.delete(key);
  }

  async refresh() {}
}

/*
 * A sorted set per holder: socket id → expiry (Redis's clock). Expired slots (their instance died
 * without giving them back) are dropped before counting. One key per script: holders hash anywhere.
 * KEYS: the holder's set. ARGV: socket id, ttl ms, cap (0: refresh only, when the slot still exists).
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
if cap == 0 then
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`;

type WithTake = Redis & { chatTakeSlot(key: string, socketId: string, ttlMs: number, cap: number): Promise<number> };

export class RedisSocketSlots implements SocketSlots {
  readonly #redis: WithTake;
  readonly #key: (holder: string) => string;
  readonly #ttlMs: number;

  /** `ttlMs`: how long a slot outlives its instance; refreshed every heartbeat, so a few of them. */
  constructor(redis: Redis, key: (holder: string) => string, ttlMs: number) {
    this.#redis = redis as WithTake;
    this.#redis.defineCommand('chatTakeSlot', { numberOfKeys: 1, lua: TAKE });
    this.#key = key;
    this.#ttlMs = ttlMs;
  }

  async take(key: string, socketId: string, cap: number) {
    return (await this.#redis.chatTakeSlot(this.#key(key), socketId, this.#ttlMs, Math.max(1, cap))) === 1;
  }

  async give(key: string, socketId: string) {
    await this.#redis.zrem(this.#key(key), socketId);
  }

  async refresh(slots: Iterable<{ key: string; socketId: string }>) {
    await Promise.all([...slots].map((s) => this.#redis.chatTakeSlot(this.#key(s.key), s.socketId, this.#ttlMs, 0)));
  }
}
