/**
 * A room's log: the totally ordered items of one stream's chat. Appending assigns the next id
 * (1, 2, 3, … per room), stores the item for history and resume, and publishes it to every chat
 * instance that subscribed to the room — in id order. In Redis (several instances) or in memory (one).
 */

/** One item: its id, its type and its JSON exactly as clients receive it. */
export interface LogEntry {
  id: number;
  type: string;
  json: string;
}

/** The per-user limits an append is checked against (absent for moderators and system items). */
export interface AppendLimits {
  userId: string;
  rateLimitMax: number;
  rateLimitWindowMs: number;
  muteMs: number;
  slowModeMs: number;
}

export interface AppendOptions {
  limits?: AppendLimits;
  /** Appends at most once per key (at-least-once event delivery becomes at-most-once in the room). */
  dedupeKey?: string;
  /** The highest id already used in the room (from PostgreSQL), in case the log itself was lost. */
  floor: number;
  /** Refused (reason `ended`) once the room was ended: what only a live stream's chat accepts. */
  whileLive?: boolean;
}

export type AppendResult =
  | { ok: true; id: number; at: number; json: string }
  | { ok: false; reason: 'muted' | 'slow_mode' | 'duplicate' | 'ended'; retryAfterMs: number };

export interface RoomLog {
  /**
   * Appends an item given as its JSON object text without `id` and `at` (e.g. `{"type":"message",…}`):
   * limits checked, id and time assigned, stored and published, atomically.
   */
  append(streamId: string, type: string, body: string, options: AppendOptions): Promise<AppendResult>;
  /** The stream ended: appends `whileLive` are refused from now on, on every instance, atomically with them. */
  end(streamId: string): Promise<void>;
  /** The room's last id (0 when it has none). */
  head(streamId: string): Promise<number>;
  /** Items with ids after `since`, ascending, at most `limit`. */
  after(streamId: string, since: number, limit: number): Promise<LogEntry[]>;
  /** The last `count` items, ascending. */
  recent(streamId: string, count: number): Promise<LogEntry[]>;
  /** Delivers the room's new items, in id order (possibly with gaps after a lost connection), until unsubscribed. */
  subscribe(streamId: string, onEntry: (entry: LogEntry) => void): Promise<void>;
  unsubscribe(streamId: string): Promise<void>;
  /** Called after a lost subscription is back: items published meanwhile were not delivered. */
  onResubscribed(listener: () => void): void;
  close(): Promise<void>;
}

/** Builds an item's JSON from its id, time and body (`{"type":…}`): the same text in Redis and in memory. */
export const itemJson = (id: number, at: number, body: string) => `{"id":${id},"at":${at},${body.slice(1)}`;

/** The time an item's JSON (made by `itemJson`) carries: when the log accepted it. */
export function itemAt(json: string): number | undefined {
  const at = /^\{"id":\d+,"at":(\d+),/.exec(json)?.[1];
  return at === undefined ? undefined : Number(at);
}

interface MemoryRoom {
  seq: number;
  entries: LogEntry[];
  /** userId → window, mute and slow-mode deadlines. */
  users: Map<string, { count: number; windowEnd: number; mutedUntil: number; slowUntil: number }>;
  dedupe: Set<string>;
  ended: boolean;
  subscriber: ((entry: LogEntry) => void) | undefined;
}

/** One process, no Redis: embedded mode (`livehouse up`). Same semantics as the Redis log. */
export class MemoryRoomLog implements RoomLog {
  readonly #rooms = new Map<string, MemoryRoom>();
  readonly #retained: number;

  constructor(options: { retainedPerRoom: number }) {
    this.#retained = options.retainedPerRoom;
  }

  #room(streamId: string) {
    let room = this.#rooms.get(streamId);
    if (!room) {
      room = { seq: -1, entries: [], users: new Map(), dedupe: new Set(), ended: false, subscriber: undefined };
      this.#rooms.set(streamId, room);
    }
    return room;
  }

  async append(streamId: string, type: string, body: string, options: AppendOptions): Promise<AppendResult> {
    const room = this.#room(streamId);
    if (options.whileLive && room.ended) return { ok: false, reason: 'ended', retryAfterMs: 0 };
    const now = Date.now();
    const limits = options.limits;
    if (limits) {
      let u = room.users.get(limits.userId);
      if (!u) {
        u = { count: 0, windowEnd: 0, mutedUntil: 0, slowUntil: 0 };
        room.users.set(limits.userId, u);
      }
      if (u.mutedUntil > now) return { ok: false, reason: 'muted', retryAfterMs: u.mutedUntil - now };
      if (limits.slowModeMs > 0 && u.slowUntil > now) {
        return { ok: false, reason: 'slow_mode', retryAfterMs: u.slowUntil - now };
      }
      if (u.windowEnd <= now) {
        u.count = 0;
        u.windowEnd = now + limits.rateLimitWindowMs;
      }
      u.count++;
      if (u.count > limits.rateLimitMax) {
        if (limits.muteMs > 0) {
          u.mutedUntil = now + limits.muteMs;
          u.count = 0;
          u.windowEnd = 0;
          return { ok: false, reason: 'muted', retryAfterMs: limits.muteMs };
        }
        return { ok: false, reason: 'muted', retryAfterMs: u.windowEnd - now };
      }
      if (limits.slowModeMs > 0) u.slowUntil = now + limits.slowModeMs;
    }
    if (options.dedupeKey !== undefined) {
      if (room.dedupe.has(options.dedupeKey)) return { ok: false, reason: 'duplicate', retryAfterMs: 0 };
      room.dedupe.add(options.dedupeKey);
      if (room.dedupe.size > 10_000) room.dedupe.delete(room.dedupe.values().next().value as string);
    }
    if (room.seq < 0) room.seq = options.floor;
    const id = ++room.seq;
    const entry = { id, type, json: itemJson(id, now, body) };
    room.entries.push(entry);
    if (room.entries.length > this.#retained * 1.1) room.entries.splice(0, room.entries.length - this.#retained);
    const subscriber = room.subscriber;
    // Asynchronous like Redis pub/sub, and in order: microtasks run first in, first out.
    if (subscriber) queueMicrotask(() => subscriber(entry));
    return { ok: true, id, at: now, json: entry.json };
  }

  async end(streamId: string) {
    this.#room(streamId).ended = true;
  }

  async head(streamId: string) {
    return Math.max(0, this.#rooms.get(streamId)?.seq ?? 0);
  }

  async after(streamId: string, since: number, limit: number) {
    const entries = this.#rooms.get(streamId)?.entries ?? [];
    // Ids are consecutive: the entry with id `since + 1` sits at a known offset.
    const first = entries[0]?.id ?? 0;
    const start = Math.max(0, since + 1 - first);
    return entries.slice(start, start + limit);
  }

  async recent(streamId: string, count: number) {
    const entries = this.#rooms.get(streamId)?.entries ?? [];
    return count > 0 ? entries.slice(-count) : [];
  }

  async subscribe(streamId: string, onEntry: (entry: LogEntry) => void) {
    this.#room(streamId).subscriber = onEntry;
  }

  async unsubscribe(streamId: string) {
    const room = this.#rooms.get(streamId);
    if (room) room.subscriber = undefined;
  }

  onResubscribed() {
    // A process cannot lose its own subscription.
  }

  async close() {
    for (const room of this.#rooms.values()) room.subscriber = undefined;
  }
}
