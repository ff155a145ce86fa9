import type { Redis } from 'ioredis';
import { type AppendOptions, type AppendResult, itemJson, type LogEntry, type RoomLog } from './room-log.ts';

/*
 * One Lua script does the whole append, so that it is atomic across chat instances:
 * the user's mute, slow mode and rate window; the dedupe key; the next id (INCR, started from the
 * highest id in PostgreSQL or in the stream if the counter is gone); XADD to the room's stream with
 * that id as the entry id; and PUBLISH to the room's channel. Redis runs scripts one at a time, so
 * PUBLISH order is id order: every subscriber sees a room's items in the same order.
 *
 * KEYS: seq, log, rate window, mute, slow mode, dedupe, ended
 * ARGV: type, body, check limits (0/1), max, windowMs, muteMs, slowModeMs, maxlen, ttl seconds, floor,
 *       dedupe (0/1), channel, refuse once ended (0/1)
 */
const APPEND = `
if ARGV[13] == '1' and redis.call('EXISTS', KEYS[7]) == 1 then return {-4, 0} end
if ARGV[3] == '1' then
  local muted = redis.call('PTTL', KEYS[4])
  if muted > 0 then return {-1, muted} end
  local slowMs = tonumber(ARGV[7])
  if slowMs > 0 then
    local slow = redis.call('PTTL', KEYS[5])
    if slow > 0 then return {-2, slow} end
  end
  local count = redis.call('INCR', KEYS[3])
  if count == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[5]) end
  if count > tonumber(ARGV[4]) then
    local muteMs = tonumber(ARGV[6])
    if muteMs > 0 then
      redis.call('SET', KEYS[4], '1', 'PX', muteMs)
      redis.call('DEL', KEYS[3])
      return {-1, muteMs}
    end
    return {-1, redis.call('PTTL', KEYS[3])}
  end
  if slowMs > 0 then redis.call('SET', KEYS[5], '1', 'PX', slowMs) end
end
if ARGV[11] == '1' then
  if not redis.call('SET', KEYS[6], '1', 'NX', 'EX', ARGV[9]) then return {-3, 0} end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  local floor = tonumber(ARGV[10])
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if last[1] then
    local lastId = tonumber(string.match(last[1][1], '^(%d+)'))
    if lastId > floor then floor = lastId end
  end
  redis.call('SET', KEYS[1], floor)
end
local id = redis.call('INCR', KEYS[1])
local t = redis.call('TIME')
local at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local item = '{"id":' .. id .. ',"at":' .. string.format('%d', at) .. ',' .. string.sub(ARGV[2], 2)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], id .. '-0', 't', ARGV[1], 'j', item)
redis.call('EXPIRE', KEYS[1], ARGV[9])
redis.call('EXPIRE', KEYS[2], ARGV[9])
redis.call('PUBLISH', ARGV[12], id .. ' ' .. ARGV[1] .. ' ' .. item)
return {id, at}
`;

type StreamReply = [string, string[]][];

/** The script as ioredis defines it (EVALSHA, falling back to EVAL once). */
type WithAppend = Redis & { chatAppend(...args: (string | number)[]): Promise<[number, number]> };

function toEntries(reply: StreamReply): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const [streamId, fields] of reply) {
    let type = '';
    let json = '';
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 't') type = fields[i + 1] as string;
      else if (fields[i] === 'j') json = fields[i + 1] as string;
    }
    entries.push({ id: Number.parseInt(streamId, 10), type, json });
  }
  return entries;
}

/** Parses `<id> <type> <json>` as published by the script. */
function parsePublished(payload: string): LogEntry | undefined {
  const a = payload.indexOf(' ');
  const b = payload.indexOf(' ', a + 1);
  if (a < 0 || b < 0) return undefined;
  return { id: Number(payload.slice(0, a)), type: payload.slice(a + 1, b), json: payload.slice(b + 1) };
}

/**
 * Several chat instances: a Redis Stream per room holds its recent items (ids `<n>-0`, so the
 * stream id is the item id), a counter assigns ids, a pub/sub channel per room fans items out.
 * Keys carry the room in a hash tag, so a room's keys share a Redis Cluster slot.
 */
export class RedisRoomLog implements RoomLog {
  readonly #redis: WithAppend;
  readonly #sub: Redis;
  readonly #prefix: string;
  readonly #retained: number;
  readonly #ttlSeconds: number;
  readonly #handlers = new Map<string, (entry: LogEntry) => void>();
  readonly #resubscribed = new Set<() => void>();

  /**
   * Commands go through `redis`, the service's one client (the kit's redis plugin opens and closes it). Pub/sub needs
   * a connection of its own: a subscribed connection accepts nothing but (P)SUBSCRIBE, UNSUBSCRIBE and PING (RESP2),
   * so the appends and reads cannot share it. That one is a duplicate of the shared client, opened and closed here.
   */
  constructor(redis: Redis, options: { prefix: string; retainedPerRoom: number; ttlSeconds: number }) {
    this.#prefix = options.prefix;
    this.#retained = options.retainedPerRoom;
    this.#ttlSeconds = options.ttlSeconds;
    this.#redis = redis as WithAppend;
    if (!this.#redis.chatAppend) this.#redis.defineCommand('chatAppend', { numberOfKeys: 7, lua: APPEND });
    // A subscription waits for Redis to come back rather than failing: ioredis resubscribes on reconnect.
    this.#sub = redis.duplicate({ maxRetriesPerRequest: null });
    this.#sub.on('message', (channel: string, payload: string) => {
      const handler = this.#handlers.get(channel);
      const entry = handler && parsePublished(payload);
      if (entry) handler(entry);
    });
    let connectedOnce = false;
    this.#sub.on('ready', () => {
      // ioredis subscribes again by itself after a reconnect; what was published meanwhile is lost.
      if (connectedOnce) for (const listener of this.#resubscribed) listener();
      connectedOnce = true;
    });
    // Errors are retried by ioredis; calls that fail reject on their own (the shared client's are logged by the kit).
    this.#sub.on('error', () => {});
  }

  /** The Redis client for commands: the service's shared one (viewer counts and socket slots use it too). */
  get redis() {
    return this.#redis;
  }

  key(streamId: string, suffix: string) {
    return `${this.#prefix}{${streamId}}:${suffix}`;
  }

  #channel(streamId: string) {
    return `${this.#prefix}{${streamId}}`;
  }

  async append(streamId: string, type: string, body: string, options: AppendOptions): Promise<AppendResult> {
    const limits = options.limits;
    const user = limits?.userId ?? '-';
    const [id, value] = await this.#redis.chatAppend(
      this.key(streamId, 'seq'),
      this.key(streamId, 'log'),
      this.key(streamId, `rl:${user}`),
      this.key(streamId, `mute:${user}`),
      this.key(streamId, `slow:${user}`),
      this.key(streamId, `dedupe:${options.dedupeKey ?? '-'}`),
      this.key(streamId, 'ended'),
      type,
      body,
      limits ? 1 : 0,
      limits?.rateLimitMax ?? 0,
      limits?.rateLimitWindowMs ?? 0,
      limits?.muteMs ?? 0,
      limits?.slowModeMs ?? 0,
      this.#retained,
      this.#ttlSeconds,
      options.floor,
      options.dedupeKey !== undefined ? 1 : 0,
      this.#channel(streamId),
      options.whileLive ? 1 : 0,
    );
    if (id === -4) return { ok: false, reason: 'ended', retryAfterMs: 0 };
    if (id === -1) return { ok: false, reason: 'muted', retryAfterMs: value };
    if (id === -2) return { ok: false, reason: 'slow_mode', retryAfterMs: value };
    if (id === -3) return { ok: false, reason: 'duplicate', retryAfterMs: 0 };
    return { ok: true, id, at: value, json: itemJson(id, value, body) };
  }

  async end(streamId: string) {
    await this.#redis.set(this.key(streamId, 'ended'), '1', 'EX', this.#ttlSeconds);
  }

  async head(streamId: string) {
    return Number((await this.#redis.get(this.key(streamId, 'seq'))) ?? 0);
  }

  async after(streamId: string, since: number, limit: number) {
    const reply = (await this.#redis.xrange(
      this.key(streamId, 'log'),
      `${since + 1}-0`,
      '+',
      'COUNT',
      limit,
    )) as StreamReply;
    return toEntries(reply);
  }

  async recent(streamId: string, count: number) {
    if (count <= 0) return [];
    const reply = (await this.#redis.xrevrange(this.key(streamId, 'log'), '+', '-', 'COUNT', count)) as StreamReply;
    return toEntries(reply).reverse();
  }

  async subscribe(streamId: string, onEntry: (entry: LogEntry) => void) {
    const channel = this.#channel(streamId);
    this.#handlers.set(channel, onEntry);
    await this.#sub.subscribe(channel);
  }

  async unsubscribe(streamId: string) {
    const channel = this.#channel(streamId);
    this.#handlers.delete(channel);
    await this.#sub.unsubscribe(channel);
  }

  onResubscribed(listener: () => void) {
    this.#resubscribed.add(listener);
  }

  async close() {
    this.#handlers.clear();
    this.#resubscribed.clear();
    // Only what this log opened: the shared client closes with the service.
    await this.#sub.quit().catch(() => this.#sub.disconnect());
  }
}
