import { randomUUID } from 'node:crypto';
import type { chat, EventEnvelope } from '@livehouse/contracts';
import type { Caller, Clients } from '@livehouse/kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import type { ChatConfig } from './chat.config.ts';
import * as repo from './chat.repository.ts';
import type { ChatDatabase } from './db.ts';
import type { Action } from './frames.ts';
import { applyControl, Moderation } from './moderation.ts';
import { Persister } from './persister.ts';
import { type Room, visibleItems } from './room.ts';
import { itemAt, type LogEntry, type RoomLog } from './room-log.ts';
import { Rooms } from './rooms.ts';
import { type Admission, Sessions } from './sessions.ts';
import type { SocketSlots } from './sockets.ts';
import { deliverStamp, type StampOutcome } from './stamps.ts';
import { type ViewerCounter, ViewerReporter } from './viewers.ts';
import { RoomWriter } from './writer.ts';

export { validateText } from './frames.ts';
export type { Admission } from './sessions.ts';

export interface ChatHubOptions {
  db: Kysely<ChatDatabase>;
  log: RoomLog;
  contents: Clients['contents'];
  config: ChatConfig;
  logger: FastifyBaseLogger;
  viewers: ViewerCounter;
  slots: SocketSlots;
  /** The service's metrics registry: open sockets per pod (the chat HPA scales on it). */
  metrics?: Registry;
}

/**
 * Send → deliver: from a message's acceptance into its room's log (its `at`: the Lua append's Redis TIME, or this
 * process's clock in memory) to the write of the frame carrying it to this instance's clients, on every instance
 * that has the room open: the Redis round trips, pub/sub fan-out and batching (`flushIntervalMs`) included. Across
 * pods it compares Redis's clock with the pod's (both NTP-synced on EKS); a negative difference counts as 0.
 */
function deliveryHistogram(registry: Registry) {
  const histogram = new Histogram({
    name: 'livehouse_chat_delivery_seconds',
    help: "From a chat message's acceptance into its room's log to its fan-out write on this instance",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return (entries: readonly LogEntry[]) => {
    const now = Date.now();
    for (const e of entries) {
      if (e.type !== 'message') continue;
      const at = itemAt(e.json);
      if (at !== undefined) histogram.observe(Math.max(0, now - at) / 1000);
    }
  };
}

/**
 * Chat on one instance, as the routes and consumers see it: a façade over its rooms (`Rooms`), its
 * sockets (`Sessions`: admission, frames, heartbeat), what goes into the log (`RoomWriter`),
 * moderation and stamp delivery, plus the timers that drive them. The ordering, the limits and the
 * fan-out to other instances live in the RoomLog.
 */
export class ChatHub {
  readonly instanceId = randomUUID();
  readonly #db: Kysely<ChatDatabase>;
  readonly #log: RoomLog;
  readonly #logger: FastifyBaseLogger;
  readonly #persister: Persister;
  readonly #reporter: ViewerReporter;
  readonly #rooms: Rooms;
  readonly #writer: RoomWriter;
  readonly #moderation: Moderation;
  readonly #sessions: Sessions;
  readonly #timers: NodeJS.Timeout[] = [];
  #closed = false;

  constructor(options: ChatHubOptions) {
    const { db, log, contents, config, logger } = options;
    this.#db = db;
    this.#log = log;
    this.#logger = logger;
    this.#persister = new Persister(db, logger, config.persistIntervalMs);
    this.#reporter = new ViewerReporter(options.viewers, contents, logger, this.instanceId);
    const onFanOut = options.metrics && deliveryHistogram(options.metrics);
    this.#rooms = new Rooms({ db, log, contents, config, logger, onItem: applyControl, ...(onFanOut && { onFanOut }) });
    this.#writer = new RoomWriter({ db, log, rooms: this.#rooms, config, persister: this.#persister });
    this.#moderation = new Moderation({ db, log, rooms: this.#rooms, writer: this.#writer, contents });
    this.#sessions = new Sessions({
      db,
      log,
      rooms: this.#rooms,
      config,
      logger,
      slots: options.slots,
      act: (room, caller, frame) => this.#act(room, caller, frame),
    });
    if (options.metrics) {
      const rooms = this.#rooms;
      new Gauge({
        name: 'livehouse_chat_connections',
        help: 'Open client WebSockets on this chat instance (the chat HPA averages it per pod)',
        registers: [options.metrics],
        collect() {
          this.set(rooms.connections());
        },
      });
    }
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const timer = setInterval(() => void fn().catch((err: unknown) => logger.warn({ err }, 'chat timer failed')), ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(config.heartbeatIntervalMs, () => this.#sessions.heartbeat());
    every(config.viewerReportIntervalMs, () => this.#reportViewers());
    every(Math.max(1000, Math.min(config.roomIdleMs, config.streamCacheMs) / 2), () =>
      this.#rooms.sweep((room) => this.#reporter.report([{ info: room.info, count: 0 }])),
    );
  }

  #act(room: Room, caller: Caller, frame: Action) {
    switch (frame.type) {
      case 'send':
        return this.post(room, caller, frame.text);
      case 'delete':
        return this.deleteMessage(room.streamId, caller, frame.messageId);
      case 'ban':
        return this.ban(room.streamId, caller, frame.userId);
      case 'unban':
        return this.unban(room.streamId, caller, frame.userId);
    }
  }

  streamInfo(streamId: string, fresh = false) {
    return this.#rooms.streamInfo(streamId, fresh);
  }

  settings(channelId: string) {
    return this.#rooms.settings(channelId);
  }

  /** The room of a stream on this instance, opened (subscribed) on first use. */
  room(streamId: string) {
    return this.#rooms.room(streamId);
  }

  admit(streamId: string, caller: Caller, address: string | undefined) {
    return this.#sessions.admit(streamId, caller, address);
  }

  join(admission: Admission, ws: WebSocket, caller: Caller, since: number | undefined) {
    this.#sessions.join(admission, ws, caller, since);
  }

  post(room: Room, caller: Caller, text: string) {
    return this.#writer.post(room, caller, text);
  }

  deleteMessage(streamId: string, caller: Caller, messageId: number) {
    return this.#moderation.deleteMessage(streamId, caller, messageId);
  }

  ban(streamId: string, caller: Caller, userId: string) {
    return this.#moderation.ban(streamId, caller, userId);
  }

  unban(streamId: string, caller: Caller, userId: string) {
    return this.#moderation.unban(streamId, caller, userId);
  }

  updateSettings(channelId: string, caller: Caller, patch: chat.UpdateRoomSettingsBody) {
    return this.#moderation.updateSettings(channelId, caller, patch);
  }

  /** `db`: the consumer's transaction (in embedded mode a second connection would wait for it forever). */
  deliverStamp(event: EventEnvelope<'stamp.sent'>, db: Kysely<ChatDatabase> = this.#db): Promise<StampOutcome> {
    return deliverStamp(this.#rooms, this.#writer, event, db);
  }

  /**
   * The stream ended (contents' `stream.ended` event, on one instance): the log refuses messages from
   * now on on every instance; this instance's cached state follows at once, the others' on refresh.
   */
  async streamEnded(streamId: string) {
    await this.#log.end(streamId);
    this.#rooms.markEnded(streamId);
  }

  async recent(streamId: string, limit: number): Promise<string[]> {
    await this.#rooms.streamInfo(streamId);
    const items = visibleItems(await this.#log.recent(streamId, limit * 3)).slice(-limit);
    if (items.length > 0) return items;
    return (await repo.recentVisibleItems(this.#db, streamId, limit)).map((r) => r.json);
  }

  async state(streamId: string) {
    const info = await this.#rooms.streamInfo(streamId);
    const room = await this.#rooms.local(streamId);
    return {
      streamId,
      viewers: this.#reporter.lastTotal(streamId) ?? room?.viewers() ?? 0,
      lastId: Math.max(await this.#log.head(streamId), room?.lastId ?? 0),
      settings: room?.settings ?? (await this.#rooms.settings(info.channelId)),
    };
  }

  /** Open client sockets on this instance. */
  connections() {
    return this.#rooms.connections();
  }

  async #reportViewers() {
    try {
      const rooms = await this.#rooms.settled();
      await this.#reporter.report(rooms.map((r) => ({ info: r.info, count: r.viewers() })));
    } catch (err) {
      this.#logger.warn({ err }, 'viewer counts could not be reported');
    }
  }

  /** Clients are told to reconnect (1012), pending items are written, timers stop. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    await this.#rooms.close();
    await this.#persister.close();
    await this.#log.close();
  }

  /** Writes queued items to PostgreSQL now (tests, shutdown). */
  flush() {
    return this.#persister.flush();
  }
}
