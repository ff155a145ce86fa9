import { chat } from '@livehouse/contracts';
import type { FastifyBaseLogger } from 'fastify';
import type { ChatClient } from './client.ts';
import type { LogEntry, RoomLog } from './room-log.ts';

/** What chat knows about the stream a room belongs to (from contents, cached). */
export interface StreamInfo {
  streamId: string;
  channelId: string;
  ownerId: string;
  state: 'scheduled' | 'live' | 'ended';
}

/** Moderators of a room: the channel owner and admins. */
export const isModerator = (info: StreamInfo, user: { id: string; roles: readonly string[] }) =>
  user.id === info.ownerId || user.roles.includes('admin');

const VISIBLE = new Set(['message', 'stamp']);

/** Messages and stamps that were not deleted, as JSON, in order (what a joining client sees). */
export function visibleItems(entries: readonly LogEntry[]): string[] {
  const deleted = new Set<number>();
  for (const e of entries)
    if (e.type === 'delete') deleted.add((JSON.parse(e.json) as { messageId: number }).messageId);
  return entries.filter((e) => VISIBLE.has(e.type) && !deleted.has(e.id)).map((e) => e.json);
}

export interface RoomOptions {
  log: RoomLog;
  logger: FastifyBaseLogger;
  /** 0: flush what one event-loop turn brought; otherwise at most this late. */
  flushIntervalMs: number;
  /** Caught-up checks of lagging clients. */
  lagCheckMs?: number;
  /** After a flush wrote its frame to this instance's clients: the items it carried (delivery metrics). */
  onFanOut?: (entries: readonly LogEntry[]) => void;
}

/**
 * One stream's room on this instance: the local clients, and the items of the room's log in id
 * order. An item arriving out of order (a lost pub/sub message) is not delivered before the gap is
 * read back from the log; an id already delivered is dropped. Items are batched per flush into one
 * frame, serialized once for all clients.
 */
export class Room {
  readonly streamId: string;
  info: StreamInfo;
  settings: chat.RoomSettings;
  readonly bans: Set<string>;
  readonly clients = new Set<ChatClient>();
  /** The last id accepted (in order) from the log. */
  lastId = 0;
  /** The last id sent to the clients: a joining client's history goes up to here. */
  flushedId = 0;
  /** The highest id PostgreSQL had when the room opened (ids continue from there if Redis lost the room). */
  floor = 0;
  /** When the last client left (for closing idle rooms). */
  emptySince: number | undefined = Date.now();
  /** Called for each item, in order, before clients get it (ban kicks, settings). */
  onItem: ((entry: LogEntry) => void) | undefined;

  readonly #options: RoomOptions;
  #incoming: LogEntry[] = [];
  #draining = false;
  #started = false;
  #batch: LogEntry[] = [];
  #batchBytes = 0;
  #flushTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  readonly #lagging = new Set<ChatClient>();
  #lagTimer: NodeJS.Timeout | undefined;

  constructor(info: StreamInfo, settings: chat.RoomSettings, bans: Iterable<string>, options: RoomOptions) {
    this.streamId = info.streamId;
    this.info = info;
    this.settings = settings;
    this.bans = new Set(bans);
    this.#options = options;
  }

  /** From the log's subscription: possibly out of order or repeated. */
  receive(entry: LogEntry) {
    this.#incoming.push(entry);
    if (this.#started && !this.#draining) void this.#drain();
  }

  /** Starts delivering, after the subscription is active, from the log's head at that moment. */
  start(lastId: number) {
    this.lastId = lastId;
    this.flushedId = lastId;
    this.#started = true;
    if (!this.#draining) void this.#drain();
  }

  /** After a lost subscription: read what was published meanwhile. */
  catchUp() {
    this.receive({ id: Number.MAX_SAFE_INTEGER, type: '', json: '' });
  }

  async #drain() {
    this.#draining = true;
    try {
      while (this.#incoming.length > 0) {
        const entry = this.#incoming.shift() as LogEntry;
        if (entry.id <= this.lastId) continue;
        if (entry.id > this.lastId + 1) {
          // A gap: fill it from the log before delivering anything newer.
          const missing = await this.#options.log.after(
            this.streamId,
            this.lastId,
            Math.min(entry.id - this.lastId - 1, 10_000),
          );
          for (const m of missing) if (m.id > this.lastId && m.id < entry.id) this.#accept(m);
        }
        if (entry.type !== '') this.#accept(entry);
      }
    } catch (err) {
      this.#options.logger.error({ err, streamId: this.streamId }, 'chat room could not read its log');
    } finally {
      this.#draining = false;
    }
    if (this.#incoming.length > 0) void this.#drain();
  }

  #accept(entry: LogEntry) {
    this.lastId = entry.id;
    this.onItem?.(entry);
    this.#batch.push(entry);
    this.#batchBytes += entry.json.length + 1;
    if (!this.#flushTimer) {
      this.#flushTimer =
        this.#options.flushIntervalMs > 0
          ? setTimeout(() => this.#flush(), this.#options.flushIntervalMs)
          : setImmediate(() => this.#flush());
    }
  }

  #flush() {
    this.#flushTimer = undefined;
    const entries = this.#batch;
    const bytes = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    const last = entries.at(-1);
    if (!last) return;
    this.flushedId = last.id;
    const items = entries.map((e) => e.json);
    // Serialized once; every client's socket gets the same buffer.
    const frame = Buffer.from(`{"type":"items","items":[${items.join(',')}]}`, 'utf8');
    for (const client of this.clients) {
      if (client.syncing) {
        for (const e of entries) client.syncing.push(e);
        if (client.syncing.length > 10_000) client.close(chat.CloseCode.tooSlow, 'too slow to join');
      } else if (client.deliver(frame, items, bytes)) {
        this.#lagging.add(client);
      }
    }
    if (this.clients.size > 0) this.#options.onFanOut?.(entries);
    this.#watchLagging();
  }

  #watchLagging() {
    if (this.#lagging.size === 0 || this.#lagTimer) return;
    this.#lagTimer = setTimeout(() => {
      this.#lagTimer = undefined;
      for (const client of this.#lagging) if (!client.catchUp()) this.#lagging.delete(client);
      this.#watchLagging();
    }, this.#options.lagCheckMs ?? 25);
  }

  add(client: ChatClient) {
    this.clients.add(client);
    this.emptySince = undefined;
  }

  /**
   * A joining client's items: `read` is what the log returned after the client was added; the
   * items flushed since then wait in `client.syncing`. Together they hold every id up to `flushedId`
   * (anything flushed before the add was in the log before the read); later ids come in shared
   * frames once `finishJoin` is called, in the same turn of the event loop.
   */
  joinEntries(client: ChatClient, read: readonly LogEntry[]): LogEntry[] {
    const byId = new Map<number, LogEntry>();
    for (const e of read) if (e.id <= this.flushedId) byId.set(e.id, e);
    for (const e of client.syncing ?? []) byId.set(e.id, e);
    return [...byId.values()].sort((a, b) => a.id - b.id);
  }

  finishJoin(client: ChatClient) {
    client.syncing = undefined;
  }

  remove(client: ChatClient) {
    this.clients.delete(client);
    this.#lagging.delete(client);
    if (this.clients.size === 0) this.emptySince = Date.now();
  }

  /** Viewers, not sockets: a user's or an address's several sockets count once. */
  viewers() {
    const viewers = new Set<string>();
    for (const client of this.clients) viewers.add(client.viewer);
    return viewers.size;
  }

  /** Closes the connections of one user (a ban). */
  kick(userId: string, code: number, reason: string) {
    for (const client of this.clients) if (client.user?.id === userId) client.close(code, reason);
  }

  closeAll(code: number = chat.CloseCode.serviceRestart, reason = 'service restart: reconnect with ?since=<last id>') {
    for (const client of this.clients) client.close(code, reason);
  }

  dispose() {
    if (this.#flushTimer) {
      clearTimeout(this.#flushTimer as NodeJS.Timeout);
      clearImmediate(this.#flushTimer as NodeJS.Immediate);
    }
    if (this.#lagTimer) clearTimeout(this.#lagTimer);
    this.#flushTimer = undefined;
    this.#lagTimer = undefined;
  }
}
