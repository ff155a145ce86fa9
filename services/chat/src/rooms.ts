import type { chat } from '@livehouse/contracts';
import type { Clients } from '@livehouse/kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { ChatConfig } from './chat.config.ts';
import * as repo from './chat.repository.ts';
import type { ChatDatabase } from './db.ts';
import { Room, type StreamInfo } from './room.ts';
import type { LogEntry, RoomLog } from './room-log.ts';

export interface RoomsOptions {
  db: Kysely<ChatDatabase>;
  log: RoomLog;
  contents: Clients['contents'];
  config: ChatConfig;
  logger: FastifyBaseLogger;
  /** Items that change a room's state (bans, settings), in log order, before clients get them. */
  onItem: (room: Room, entry: LogEntry) => void;
  /** Items just written to a room's local clients. */
  onFanOut?: (entries: readonly LogEntry[]) => void;
}

/**
 * This instance's rooms (one per stream with local clients, subscribed to its log while open) and
 * what chat knows of each stream (from contents, cached).
 */
export class Rooms {
  readonly #db: Kysely<ChatDatabase>;
  readonly #log: RoomLog;
  readonly #contents: Clients['contents'];
  readonly #config: ChatConfig;
  readonly #logger: FastifyBaseLogger;
  readonly #onItem: RoomsOptions['onItem'];
  readonly #onFanOut: RoomsOptions['onFanOut'];
  readonly #rooms = new Map<string, Promise<Room>>();
  readonly #opened = new Map<string, Room>();
  readonly #streams = new Map<string, { info: StreamInfo; expiresAt: number }>();

  constructor(options: RoomsOptions) {
    this.#db = options.db;
    this.#log = options.log;
    this.#contents = options.contents;
    this.#config = options.config;
    this.#logger = options.logger;
    this.#onItem = options.onItem;
    this.#onFanOut = options.onFanOut;
    this.#log.onResubscribed(() => {
      for (const room of this.#rooms.values())
        void room.then(
          (r) => r.catchUp(),
          () => {},
        );
    });
  }

  /** The stream's channel, owner and state, from contents; cached for `streamCacheMs`. */
  async streamInfo(streamId: string, fresh = false): Promise<StreamInfo> {
    const cached = this.#streams.get(streamId);
    if (cached && !fresh && cached.expiresAt > Date.now()) return cached.info;
    const stream = await this.#contents.stream({ params: { id: streamId } });
    const info: StreamInfo = {
      streamId,
      channelId: stream.channelId,
      ownerId: stream.ownerId,
      // Ended is final: an answer read before the stream.ended event arrived does not undo it.
      state: this.#streams.get(streamId)?.info.state === 'ended' ? 'ended' : stream.state,
    };
    this.#streams.set(streamId, { info, expiresAt: Date.now() + this.#config.streamCacheMs });
    if (this.#streams.size > 50_000) this.#streams.delete(this.#streams.keys().next().value as string);
    return info;
  }

  /** This instance's view of an ended stream, at once (the log refuses its messages everywhere). */
  markEnded(streamId: string) {
    const cached = this.#streams.get(streamId);
    if (cached) cached.info = { ...cached.info, state: 'ended' };
    const room = this.#opened.get(streamId);
    if (room) room.info = { ...room.info, state: 'ended' };
  }

  async settings(channelId: string): Promise<chat.RoomSettings> {
    return (await repo.findSettings(this.#db, channelId)) ?? { ...this.#config.defaults };
  }

  /** The room of a stream on this instance, opened (subscribed) on first use. */
  room(streamId: string): Promise<Room> {
    let room = this.#rooms.get(streamId);
    if (!room) {
      room = this.#open(streamId);
      this.#rooms.set(streamId, room);
      room.then(
        (r) => this.#opened.set(streamId, r),
        () => this.#rooms.delete(streamId),
      );
    }
    return room;
  }

  async #open(streamId: string): Promise<Room> {
    const info = await this.streamInfo(streamId);
    const [settings, bans, floor] = await Promise.all([
      this.settings(info.channelId),
      repo.bannedUsers(this.#db, streamId),
      repo.maxItemId(this.#db, streamId),
    ]);
    const room = new Room(info, settings, bans, {
      log: this.#log,
      logger: this.#logger,
      flushIntervalMs: this.#config.flushIntervalMs,
      ...(this.#onFanOut && { onFanOut: this.#onFanOut }),
    });
    room.floor = floor;
    room.onItem = (entry) => this.#onItem(room, entry);
    await this.#log.subscribe(streamId, (entry) => room.receive(entry));
    room.start(Math.max(await this.#log.head(streamId), floor));
    return room;
  }

  /** The room if it is open on this instance (not one still opening). */
  opened(streamId: string) {
    return this.#opened.get(streamId);
  }

  /** The room if this instance has it (waiting for one still opening), without opening one. */
  async local(streamId: string) {
    return this.#rooms.has(streamId) ? this.room(streamId).catch(() => undefined) : undefined;
  }

  /** Every room that opened. */
  async settled() {
    const rooms: Room[] = [];
    for (const pending of this.#rooms.values()) {
      const room = await pending.catch(() => undefined);
      if (room) rooms.push(room);
    }
    return rooms;
  }

  /** Open client sockets over every room. */
  connections() {
    let open = 0;
    for (const room of this.#opened.values()) open += room.clients.size;
    return open;
  }

  /**
   * Closes rooms nobody used for `roomIdleMs` (`closed` is told of each); refreshes the stream info
   * (state, owner) of the others.
   */
  async sweep(closed: (room: Room) => Promise<void>) {
    const now = Date.now();
    for (const room of await this.settled()) {
      if (
        room.clients.size === 0 &&
        room.emptySince !== undefined &&
        now - room.emptySince >= this.#config.roomIdleMs
      ) {
        this.#rooms.delete(room.streamId);
        this.#opened.delete(room.streamId);
        room.dispose();
        await closed(room).catch(() => {});
        await this.#log.unsubscribe(room.streamId).catch(() => {});
        continue;
      }
      if (room.clients.size > 0) {
        room.info = await this.streamInfo(room.streamId).catch(() => room.info);
      }
    }
  }

  /** Every client is told to reconnect (1012); the rooms stop. */
  async close() {
    for (const room of await this.settled()) {
      room.closeAll();
      room.dispose();
    }
    this.#rooms.clear();
    this.#opened.clear();
  }
}
