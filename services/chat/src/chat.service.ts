import { randomUUID } from 'node:crypto';
import { chat, type contents, type EventEnvelope } from '@livehouse/contracts';
import { AppError, type Caller, notFound, type ServiceClient } from '@livehouse/kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import { Compile } from 'typebox/compile';
import type { RawData, WebSocket } from 'ws';
import type { ChatConfig } from './chat.config.ts';
import * as repo from './chat.repository.ts';
import { ChatClient, type ChatUser } from './client.ts';
import type { ChatDatabase } from './db.ts';
import { Persister } from './persister.ts';
import { Room, type StreamInfo } from './room.ts';
import type { AppendResult, LogEntry, RoomLog } from './room-log.ts';
import type { SocketSlots } from './sockets.ts';
import { type ViewerCounter, ViewerReporter } from './viewers.ts';

const checkFrame = Compile(chat.ClientFrame);
const VISIBLE = new Set(['message', 'stamp']);
// C0 and C1 control characters (newlines and tabs included): chat messages are one line of text.
const CONTROL = /\p{Cc}/u;

/** Messages must be one line of well-formed text of 1…max characters (code points). */
export function validateText(text: string, max: number): string {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new AppError('validation_failed', 'text is empty');
  if (!trimmed.isWellFormed()) throw new AppError('validation_failed', 'text is not well-formed Unicode');
  if (CONTROL.test(trimmed)) throw new AppError('validation_failed', 'text may not contain control characters');
  let length = 0;
  for (const _ of trimmed) if (++length > max) break;
  if (length > max) throw new AppError('validation_failed', `text is longer than ${max} characters`);
  return trimmed;
}

export interface ChatHubOptions {
  db: Kysely<ChatDatabase>;
  log: RoomLog;
  contents: ServiceClient;
  config: ChatConfig;
  logger: FastifyBaseLogger;
  viewers: ViewerCounter;
  slots: SocketSlots;
  /** The service's metrics registry: open sockets per pod (the chat HPA scales on it). */
  metrics?: Registry;
}

/** An upgrade chat accepted: its room, and the socket slots it holds until `release`. */
export interface Admission {
  room: Room;
  /** The client's address, as the BFF saw it (absent for direct internal callers). */
  address: string | undefined;
  release: () => void;
}

type CallerUser = NonNullable<Caller['user']>;

interface FrameBudget {
  tokens: number;
  refilledAt: number;
  invalid: number;
  invalidSince: number;
}

/**
 * Chat on one instance: its rooms (one per stream with local clients), posting with the per-user
 * limits, moderation, stamps from the ledger, heartbeats and viewer counts. The ordering, the
 * limits and the fan-out to other instances live in the RoomLog.
 */
export class ChatHub {
  readonly instanceId = randomUUID();
  readonly #db: Kysely<ChatDatabase>;
  readonly #log: RoomLog;
  readonly #contents: ServiceClient;
  readonly #config: ChatConfig;
  readonly #logger: FastifyBaseLogger;
  readonly #persister: Persister;
  readonly #reporter: ViewerReporter;
  readonly #slots: SocketSlots;
  /** Slots held by this instance's sockets (refreshed every heartbeat), by socket. */
  readonly #held = new Map<string, string[]>();
  readonly #rooms = new Map<string, Promise<Room>>();
  readonly #opened = new Map<string, Room>();
  readonly #streams = new Map<string, { info: StreamInfo; expiresAt: number }>();
  readonly #budgets = new WeakMap<ChatClient, FrameBudget>();
  readonly #timers: NodeJS.Timeout[] = [];
  #closed = false;

  constructor(options: ChatHubOptions) {
    this.#db = options.db;
    this.#log = options.log;
    this.#contents = options.contents;
    this.#config = options.config;
    this.#logger = options.logger;
    this.#persister = new Persister(options.db, options.logger, options.config.persistIntervalMs);
    this.#reporter = new ViewerReporter(options.viewers, options.contents, options.logger, this.instanceId);
    this.#slots = options.slots;
    if (options.metrics) {
      const hub = this;
      new Gauge({
        name: 'livehouse_chat_connections',
        help: 'Open client WebSockets on this chat instance (the chat HPA averages it per pod)',
        registers: [options.metrics],
        collect() {
          this.set(hub.connections());
        },
      });
    }
    this.#log.onResubscribed(() => {
      for (const room of this.#rooms.values())
        void room.then(
          (r) => r.catchUp(),
          () => {},
        );
    });
    const every = (ms: number, fn: () => unknown) => {
      const timer = setInterval(fn, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#config.heartbeatIntervalMs, () => this.#heartbeat());
    every(this.#config.viewerReportIntervalMs, () => void this.#reportViewers());
    every(Math.max(1000, Math.min(this.#config.roomIdleMs, this.#config.streamCacheMs) / 2), () => void this.#sweep());
  }

  // ── streams and rooms ───────────────────────────────────────────────────────────────

  /** The stream's channel, owner and state, from contents; cached for `streamCacheMs`. */
  async streamInfo(streamId: string, fresh = false): Promise<StreamInfo> {
    const cached = this.#streams.get(streamId);
    if (cached && !fresh && cached.expiresAt > Date.now()) return cached.info;
    const stream = await this.#contents.get<contents.Stream>(`/streams/${streamId}`);
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

  async settings(channelId: string): Promise<chat.RoomSettings> {
    return (await repo.findSettings(this.#db, channelId)) ?? { ...this.#config.defaults };
  }

  /** The room of a stream on this instance, opened (subscribed) on first use. */
  room(streamId: string): Promise<Room> {
    let room = this.#rooms.get(streamId);
    if (!room) {
      room = this.#openRoom(streamId);
      this.#rooms.set(streamId, room);
      room.then(
        (r) => this.#opened.set(streamId, r),
        () => this.#rooms.delete(streamId),
      );
    }
    return room;
  }

  async #openRoom(streamId: string): Promise<Room> {
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
    });
    room.floor = floor;
    room.onItem = (entry) => this.#applyControl(room, entry);
    await this.#log.subscribe(streamId, (entry) => room.receive(entry));
    room.start(Math.max(await this.#log.head(streamId), floor));
    return room;
  }

  /** Items that change a room's state on every instance, in log order. */
  #applyControl(room: Room, entry: LogEntry) {
    if (entry.type === 'ban') {
      const { userId } = JSON.parse(entry.json) as { userId: string };
      room.bans.add(userId);
      room.kick(userId, chat.CloseCode.banned, 'banned from this room');
    } else if (entry.type === 'unban') {
      room.bans.delete((JSON.parse(entry.json) as { userId: string }).userId);
    } else if (entry.type === 'settings') {
      room.settings = (JSON.parse(entry.json) as { settings: chat.RoomSettings }).settings;
    }
  }

  isModerator(info: StreamInfo, user: CallerUser) {
    return user.id === info.ownerId || user.roles.includes('admin');
  }

  async requireModerator(streamId: string, caller: Caller) {
    if (!caller.user) throw new AppError('unauthorized', 'log in first: moderation needs a user');
    const info = await this.streamInfo(streamId);
    if (!this.isModerator(info, caller.user)) {
      throw new AppError('forbidden', 'only the channel owner or an admin may moderate this room');
    }
    return caller.user;
  }

  /**
   * Before the upgrade: the stream must exist, the user must not be banned, and neither the user nor
   * the client's address may hold its cap of sockets already. `release` gives the slots back (once).
   */
  async admit(streamId: string, caller: Caller, address: string | undefined): Promise<Admission> {
    const room = await this.room(streamId);
    // PostgreSQL, not the room's copy: a ban made on another instance a moment ago counts.
    if (caller.user && (room.bans.has(caller.user.id) || (await repo.isBanned(this.#db, streamId, caller.user.id)))) {
      throw new AppError('forbidden', 'you are banned from this room');
    }
    const release = await this.#takeSlots(caller, address);
    // Keeps the idle sweep away until the socket joins.
    room.emptySince = room.clients.size === 0 ? Date.now() : undefined;
    return { room, address, release };
  }

  async #takeSlots(caller: Caller, address: string | undefined) {
    const socketId = randomUUID();
    const holders: { key: string; cap: number; what: string }[] = [];
    if (caller.user) holders.push({ key: `user:${caller.user.id}`, cap: this.#config.maxSocketsPerUser, what: 'you' });
    if (address)
      holders.push({ key: `address:${address}`, cap: this.#config.maxSocketsPerAddress, what: 'your address' });
    const taken: string[] = [];
    const giveBack = () => {
      this.#held.delete(socketId);
      for (const key of taken) void this.#slots.give(key, socketId).catch(() => {});
    };
    try {
      for (const h of holders) {
        if (!(await this.#slots.take(h.key, socketId, h.cap))) {
          throw new AppError('rate_limited', `${h.what} already hold ${h.cap} chat connections: close one first`);
        }
        taken.push(h.key);
      }
    } catch (err) {
      giveBack();
      throw err;
    }
    this.#held.set(socketId, taken);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      giveBack();
    };
  }

  // ── sockets ─────────────────────────────────────────────────────────────────────────

  /** A new socket of an admitted caller. Synchronous up to the history read, so no frame is missed. */
  join({ room, address }: Admission, ws: WebSocket, caller: Caller, since: number | undefined) {
    const user: ChatUser | undefined = caller.user && {
      id: caller.user.id,
      moderator: this.isModerator(room.info, caller.user),
    };
    const client = new ChatClient(
      ws,
      user,
      { sendBufferBytes: this.#config.sendBufferBytes, sendHighWaterBytes: this.#config.sendHighWaterBytes },
      address,
    );
    this.#budgets.set(client, {
      tokens: this.#config.maxFramesPerSecond * 2,
      refilledAt: Date.now(),
      invalid: 0,
      invalidSince: Date.now(),
    });
    room.add(client);
    ws.on('message', (data, isBinary) => this.#onFrame(room, client, caller, data, isBinary));
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('close', () => room.remove(client));
    ws.on('error', () => client.close(1011, 'socket error'));
    client.send({ type: 'welcome', streamId: room.streamId, user: user ?? null, settings: room.settings });
    void this.#sendHistory(room, client, since).catch((err: unknown) => {
      this.#logger.error({ err, streamId: room.streamId }, 'chat history could not be read');
      client.close(1011, 'internal error: reconnect');
    });
  }

  async #sendHistory(room: Room, client: ChatClient, since: number | undefined) {
    if (since !== undefined) {
      const read = await this.#log.after(room.streamId, since, this.#config.retainedPerRoom);
      if (!client.syncing) return; // closed meanwhile
      const entries = room.joinEntries(client, read).filter((e) => e.id > since);
      // Complete when the first item after `since` is there, or there is nothing after it.
      const complete = entries.length === 0 ? room.flushedId <= since : entries[0]?.id === since + 1;
      if (complete) {
        room.finishJoin(client);
        client.send(`{"type":"history","resumed":true,"items":[${entries.map((e) => e.json).join(',')}]}`);
        return;
      }
      // Too far behind (older items were trimmed from the log): the recent history instead.
    }
    const read = await this.#log.recent(room.streamId, this.#config.historySize * 3);
    if (!client.syncing) return;
    const entries = room.joinEntries(client, read);
    let items = visible(entries).slice(-this.#config.historySize);
    if (items.length === 0 && room.floor > 0 && room.flushedId <= room.floor) {
      // Redis lost the room: PostgreSQL still has it.
      const stored = await repo.recentVisibleItems(this.#db, room.streamId, this.#config.historySize);
      if (!client.syncing) return;
      const joined = visible(room.joinEntries(client, []));
      items = [...stored.map((r) => r.json), ...joined].slice(-this.#config.historySize);
    }
    room.finishJoin(client);
    client.send(`{"type":"history","resumed":false,"items":[${items.join(',')}]}`);
  }

  #onFrame(room: Room, client: ChatClient, caller: Caller, data: RawData, isBinary: boolean) {
    const budget = this.#budgets.get(client) as FrameBudget;
    const now = Date.now();
    const rate = this.#config.maxFramesPerSecond;
    budget.tokens = Math.min(rate * 2, budget.tokens + ((now - budget.refilledAt) * rate) / 1000);
    budget.refilledAt = now;
    if (budget.tokens < 1) {
      client.close(chat.CloseCode.policyViolation, `flood: at most ${rate} frames per second`);
      return;
    }
    budget.tokens -= 1;

    const invalid = (code: 'unsupported_media_type' | 'invalid_json' | 'validation_failed', message: string) => {
      if (now - budget.invalidSince > 60_000) {
        budget.invalid = 0;
        budget.invalidSince = now;
      }
      if (++budget.invalid > this.#config.maxInvalidFramesPerMinute) {
        client.close(chat.CloseCode.policyViolation, 'too many invalid frames');
        return;
      }
      client.send({ type: 'error', code, message });
    };
    if (isBinary) return invalid('unsupported_media_type', 'send JSON in text frames; binary frames are not accepted');
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      return invalid('invalid_json', 'the frame is not valid JSON');
    }
    if (!checkFrame.Check(frame)) {
      const type = (frame as { type?: unknown } | null)?.type;
      return invalid(
        'validation_failed',
        typeof type === 'string' && ['send', 'delete', 'ban', 'unban', 'ping'].includes(type)
          ? `invalid ${type} frame: see PROTOCOL.md`
          : 'unknown frame type: send, delete, ban, unban or ping',
      );
    }
    if (frame.type === 'ping') return client.send({ type: 'pong', ...(frame.ref !== undefined && { ref: frame.ref }) });
    const ref = frame.ref;
    this.#act(room, caller, frame).then(
      (result) => client.send({ type: 'ack', ...(ref !== undefined && { ref }), id: result.id, at: result.at }),
      (err: unknown) => {
        const e = err instanceof AppError ? err : undefined;
        if (!e) this.#logger.error({ err, streamId: room.streamId }, 'chat frame failed');
        const retry = e?.headers?.['retry-after-ms'];
        client.send({
          type: 'error',
          ...(ref !== undefined && { ref }),
          code: e?.code ?? 'internal_error',
          message: e?.message ?? 'something went wrong on our side',
          ...(retry !== undefined && { retryAfterMs: Number(retry) }),
        });
      },
    );
  }

  #act(room: Room, caller: Caller, frame: Exclude<chat.ClientFrame, { type: 'ping' }>) {
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

  // ── posting and moderation ──────────────────────────────────────────────────────────

  async post(room: Room, caller: Caller, rawText: string) {
    if (!caller.user) throw new AppError('unauthorized', 'log in to post: anonymous readers may only read');
    const user = caller.user;
    if (room.bans.has(user.id)) throw new AppError('forbidden', 'you are banned from this room');
    if (room.info.state === 'ended') throw new AppError('conflict', 'the stream has ended: its chat is read-only');
    const text = validateText(rawText, this.#config.maxMessageLength);
    const s = room.settings;
    const limits = this.isModerator(room.info, user)
      ? undefined
      : {
          userId: user.id,
          rateLimitMax: s.rateLimitMax,
          rateLimitWindowMs: s.rateLimitWindowMs,
          muteMs: s.muteMs,
          slowModeMs: s.slowModeSeconds * 1000,
        };
    const body = JSON.stringify({ type: 'message', userId: user.id, text });
    const result = await this.#log.append(room.streamId, 'message', body, {
      floor: room.floor,
      whileLive: true,
      ...(limits && { limits }),
    });
    return this.#appended(room.streamId, 'message', user.id, result, s);
  }

  #appended(streamId: string, type: string, userId: string | null, result: AppendResult, s?: chat.RoomSettings) {
    if (!result.ok) {
      const retry = { headers: { 'retry-after-ms': String(result.retryAfterMs) } };
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
      if (result.reason === 'slow_mode') {
        throw new AppError(
          'rate_limited',
          `slow mode: one message per ${s?.slowModeSeconds} s; wait ${seconds} s`,
          retry,
        );
      }
      if (result.reason === 'muted') {
        throw new AppError(
          'rate_limited',
          `muted for ${seconds} s: at most ${s?.rateLimitMax} messages per ${(s?.rateLimitWindowMs ?? 0) / 1000} s`,
          retry,
        );
      }
      if (result.reason === 'ended') throw new AppError('conflict', 'the stream has ended: its chat is read-only');
      throw new AppError('conflict', 'already delivered');
    }
    this.#persister.add({ streamId, id: result.id, type, userId, json: result.json, at: result.at });
    return { id: result.id, at: result.at };
  }

  async #appendSystem(
    streamId: string,
    type: string,
    body: Record<string, unknown>,
    options: { dedupeKey?: string; db?: Kysely<ChatDatabase> } = {},
  ) {
    const { dedupeKey, db = this.#db } = options;
    // Not awaiting a room that is still opening: it queries outside `db`'s transaction.
    const floor = this.#opened.get(streamId)?.floor ?? (await repo.maxItemId(db, streamId));
    const json = JSON.stringify({ type, ...body });
    const result = await this.#log.append(streamId, type, json, { floor, ...(dedupeKey && { dedupeKey }) });
    return { result, appended: result.ok ? this.#appended(streamId, type, null, result) : undefined };
  }

  async #localRoom(streamId: string) {
    return this.#rooms.has(streamId) ? this.room(streamId).catch(() => undefined) : undefined;
  }

  async deleteMessage(streamId: string, caller: Caller, messageId: number) {
    const by = await this.requireModerator(streamId, caller);
    const head = Math.max(await this.#log.head(streamId), (await this.#localRoom(streamId))?.lastId ?? 0);
    if (messageId > head) throw notFound(`message ${messageId}`);
    const { appended } = await this.#appendSystem(streamId, 'delete', { messageId, by: by.id });
    this.#persister.delete(streamId, messageId, new Date());
    return appended as { id: number; at: number };
  }

  async ban(streamId: string, caller: Caller, userId: string) {
    const by = await this.requireModerator(streamId, caller);
    const info = await this.streamInfo(streamId);
    if (userId === info.ownerId) throw new AppError('conflict', 'the channel owner cannot be banned from their room');
    // The ban is stored before it is announced: a client that reconnects right after is refused.
    await repo.ban(this.#db, streamId, userId, by.id);
    // This instance at once; every instance (this one again) when the item arrives.
    const room = await this.#localRoom(streamId);
    room?.bans.add(userId);
    room?.kick(userId, chat.CloseCode.banned, 'banned from this room');
    const { appended } = await this.#appendSystem(streamId, 'ban', { userId, by: by.id });
    return appended as { id: number; at: number };
  }

  async unban(streamId: string, caller: Caller, userId: string) {
    const by = await this.requireModerator(streamId, caller);
    if (!(await repo.unban(this.#db, streamId, userId))) throw notFound('the ban');
    (await this.#localRoom(streamId))?.bans.delete(userId);
    const { appended } = await this.#appendSystem(streamId, 'unban', { userId, by: by.id });
    return appended as { id: number; at: number };
  }

  /** The owner (or an admin) changes a channel's settings; its live room learns them in order. */
  async updateSettings(channelId: string, caller: Caller, patch: chat.UpdateRoomSettingsBody) {
    if (!caller.user) throw new AppError('unauthorized', 'log in first');
    const channel = await this.#contents.get<contents.Channel>(`/channels/${channelId}`);
    if (channel.ownerId !== caller.user.id && !caller.user.roles.includes('admin')) {
      throw new AppError('forbidden', 'only the channel owner or an admin may change its chat settings');
    }
    const settings = { ...(await this.settings(channelId)), ...patch };
    await repo.saveSettings(this.#db, channelId, settings);
    if (channel.liveStreamId) await this.#appendSystem(channel.liveStreamId, 'settings', { settings });
    return settings;
  }

  /**
   * A stamp the ledger committed (the `stamp.sent` event): into its room once, however often the
   * event is delivered. Its `txId` lets clients drop it if they see it twice anyway.
   */
  async deliverStamp(
    event: EventEnvelope<'stamp.sent'>,
    /** The consumer's transaction: in embedded mode a second connection would wait for it forever. */
    db: Kysely<ChatDatabase> = this.#db,
  ): Promise<'delivered' | 'duplicate' | 'banned'> {
    const d = event.data;
    // A banned user's stamp is not shown (the ledger has already moved its points; stamp owns that).
    const room = this.#opened.get(d.streamId);
    if (room?.bans.has(d.senderId) || (await repo.isBanned(db, d.streamId, d.senderId))) return 'banned';
    const { result } = await this.#appendSystem(
      d.streamId,
      'stamp',
      {
        txId: d.transferId ?? d.sentStampId,
        sentStampId: d.sentStampId,
        stampId: d.stampId,
        senderId: d.senderId,
        price: d.price,
      },
      { dedupeKey: `stamp:${d.sentStampId}`, db },
    );
    return result.ok ? 'delivered' : 'duplicate';
  }

  /**
   * The stream ended (contents' `stream.ended` event, on one instance): the log refuses messages from
   * now on on every instance; this instance's cached state follows at once, the others' on refresh.
   */
  async streamEnded(streamId: string) {
    await this.#log.end(streamId);
    const cached = this.#streams.get(streamId);
    if (cached) cached.info = { ...cached.info, state: 'ended' };
    const room = this.#opened.get(streamId);
    if (room) room.info = { ...room.info, state: 'ended' };
  }

  async recent(streamId: string, limit: number): Promise<string[]> {
    await this.streamInfo(streamId);
    const items = visible(await this.#log.recent(streamId, limit * 3)).slice(-limit);
    if (items.length > 0) return items;
    return (await repo.recentVisibleItems(this.#db, streamId, limit)).map((r) => r.json);
  }

  async state(streamId: string) {
    const info = await this.streamInfo(streamId);
    const room = await this.#localRoom(streamId);
    return {
      streamId,
      viewers: this.#reporter.lastTotal(streamId) ?? room?.viewers() ?? 0,
      lastId: Math.max(await this.#log.head(streamId), room?.lastId ?? 0),
      settings: room?.settings ?? (await this.settings(info.channelId)),
    };
  }

  /** Open client sockets on this instance, over every room. */
  connections() {
    let open = 0;
    for (const room of this.#opened.values()) open += room.clients.size;
    return open;
  }

  // ── housekeeping ────────────────────────────────────────────────────────────────────

  #heartbeat() {
    const held = [...this.#held].flatMap(([socketId, keys]) => keys.map((key) => ({ key, socketId })));
    this.#slots.refresh(held).catch((err: unknown) => this.#logger.warn({ err }, 'socket slots not refreshed'));
    for (const pending of this.#rooms.values()) {
      void pending.then(
        (room) => {
          for (const client of room.clients) {
            if (!client.alive) {
              // No pong since the last ping: the peer is gone (or stalled); free it now.
              client.ws.terminate();
              room.remove(client);
              continue;
            }
            client.alive = false;
            if (client.open) client.ws.ping();
          }
        },
        () => {},
      );
    }
  }

  async #settled() {
    const rooms: Room[] = [];
    for (const pending of this.#rooms.values()) {
      const room = await pending.catch(() => undefined);
      if (room) rooms.push(room);
    }
    return rooms;
  }

  async #reportViewers() {
    try {
      const rooms = await this.#settled();
      await this.#reporter.report(rooms.map((r) => ({ info: r.info, count: r.viewers() })));
    } catch (err) {
      this.#logger.warn({ err }, 'viewer counts could not be reported');
    }
  }

  /** Closes rooms nobody used for `roomIdleMs`; refreshes stream info (state, owner) of the others. */
  async #sweep() {
    const now = Date.now();
    for (const room of await this.#settled()) {
      if (
        room.clients.size === 0 &&
        room.emptySince !== undefined &&
        now - room.emptySince >= this.#config.roomIdleMs
      ) {
        this.#rooms.delete(room.streamId);
        this.#opened.delete(room.streamId);
        room.dispose();
        await this.#reporter.report([{ info: room.info, count: 0 }]).catch(() => {});
        await this.#log.unsubscribe(room.streamId).catch(() => {});
        continue;
      }
      if (room.clients.size > 0) {
        room.info = await this.streamInfo(room.streamId).catch(() => room.info);
      }
    }
  }

  /** Clients are told to reconnect (1012), pending items are written, timers stop. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    const rooms = await this.#settled();
    for (const room of rooms) {
      room.closeAll();
      room.dispose();
    }
    this.#rooms.clear();
    this.#opened.clear();
    await this.#persister.close();
    await this.#log.close();
  }

  /** Writes queued items to PostgreSQL now (tests, shutdown). */
  flush() {
    return this.#persister.flush();
  }
}

/** Messages and stamps that were not deleted, as JSON, in order. */
function visible(entries: readonly LogEntry[]): string[] {
  const deleted = new Set<number>();
  for (const e of entries)
    if (e.type === 'delete') deleted.add((JSON.parse(e.json) as { messageId: number }).messageId);
  return entries.filter((e) => VISIBLE.has(e.type) && !deleted.has(e.id)).map((e) => e.json);
}
