import { randomUUID } from 'node:crypto';
import { chat } from '@livehouse/contracts';
import { AppError, type Caller } from '@livehouse/kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { RawData, WebSocket } from 'ws';
import type { ChatConfig } from './chat.config.ts';
import * as repo from './chat.repository.ts';
import { ChatClient, type ChatUser } from './client.ts';
import type { ChatDatabase } from './db.ts';
import { type Action, errorFrame, FrameBudget, parseClientFrame } from './frames.ts';
import { isModerator, type Room, visibleItems } from './room.ts';
import type { RoomLog } from './room-log.ts';
import type { Rooms } from './rooms.ts';
import type { SocketSlots } from './sockets.ts';
import type { Appended } from './writer.ts';

/** An upgrade chat accepted: its room, and the socket slots it holds until `release`. */
export interface Admission {
  room: Room;
  /** The client's address, as the BFF saw it (absent for direct internal callers). */
  address: string | undefined;
  release: () => void;
}

export interface SessionsOptions {
  db: Kysely<ChatDatabase>;
  log: RoomLog;
  rooms: Rooms;
  config: ChatConfig;
  logger: FastifyBaseLogger;
  slots: SocketSlots;
  /** What a valid frame asks for (post, delete, ban, unban); answered with an ack or an error frame. */
  act: (room: Room, caller: Caller, frame: Action) => Promise<Appended>;
}

/**
 * The sockets on this instance: admission (bans, socket caps), joining with history or resume, the
 * frames a client sends, and the heartbeat that drops clients which stopped answering.
 */
export class Sessions {
  readonly #db: Kysely<ChatDatabase>;
  readonly #log: RoomLog;
  readonly #rooms: Rooms;
  readonly #config: ChatConfig;
  readonly #logger: FastifyBaseLogger;
  readonly #slots: SocketSlots;
  readonly #act: SessionsOptions['act'];
  /** Slots held by this instance's sockets (refreshed every heartbeat), by socket. */
  readonly #held = new Map<string, string[]>();

  constructor(options: SessionsOptions) {
    this.#db = options.db;
    this.#log = options.log;
    this.#rooms = options.rooms;
    this.#config = options.config;
    this.#logger = options.logger;
    this.#slots = options.slots;
    this.#act = options.act;
  }

  /**
   * Before the upgrade: the stream must exist, the user must not be banned, and neither the user nor
   * the client's address may hold its cap of sockets already. `release` gives the slots back (once).
   */
  async admit(streamId: string, caller: Caller, address: string | undefined): Promise<Admission> {
    const room = await this.#rooms.room(streamId);
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
    if (address) {
      holders.push({ key: `address:${address}`, cap: this.#config.maxSocketsPerAddress, what: 'your address' });
    }
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

  /** A new socket of an admitted caller. Synchronous up to the history read, so no frame is missed. */
  join({ room, address }: Admission, ws: WebSocket, caller: Caller, since: number | undefined) {
    const user: ChatUser | undefined = caller.user && {
      id: caller.user.id,
      moderator: isModerator(room.info, caller.user),
    };
    const client = new ChatClient(
      ws,
      user,
      { sendBufferBytes: this.#config.sendBufferBytes, sendHighWaterBytes: this.#config.sendHighWaterBytes },
      address,
    );
    const budget = new FrameBudget(this.#config.maxFramesPerSecond, this.#config.maxInvalidFramesPerMinute, Date.now());
    room.add(client);
    ws.on('message', (data, isBinary) => this.#onFrame(room, client, caller, budget, data, isBinary));
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
    let items = visibleItems(entries).slice(-this.#config.historySize);
    if (items.length === 0 && room.floor > 0 && room.flushedId <= room.floor) {
      // Redis lost the room: PostgreSQL still has it.
      const stored = await repo.recentVisibleItems(this.#db, room.streamId, this.#config.historySize);
      if (!client.syncing) return;
      const joined = visibleItems(room.joinEntries(client, []));
      items = [...stored.map((r) => r.json), ...joined].slice(-this.#config.historySize);
    }
    room.finishJoin(client);
    client.send(`{"type":"history","resumed":false,"items":[${items.join(',')}]}`);
  }

  #onFrame(room: Room, client: ChatClient, caller: Caller, budget: FrameBudget, data: RawData, isBinary: boolean) {
    const now = Date.now();
    if (!budget.take(now)) {
      client.close(chat.CloseCode.policyViolation, `flood: at most ${budget.rate} frames per second`);
      return;
    }
    const parsed = parseClientFrame(isBinary ? '' : data.toString(), isBinary);
    if (!parsed.ok) {
      if (!budget.invalid(now)) client.close(chat.CloseCode.policyViolation, 'too many invalid frames');
      else {
        const { code, message, ref } = parsed;
        client.send({ type: 'error', ...(ref !== undefined && { ref }), code, message });
      }
      return;
    }
    const frame = parsed.frame;
    if (frame.type === 'ping') return client.send({ type: 'pong', ...(frame.ref !== undefined && { ref: frame.ref }) });
    const ref = frame.ref;
    this.#act(room, caller, frame).then(
      (result) => client.send({ type: 'ack', ...(ref !== undefined && { ref }), id: result.id, at: result.at }),
      (err: unknown) => {
        const answer = errorFrame(ref, err);
        if (answer.unexpected) this.#logger.error({ err, streamId: room.streamId }, 'chat frame failed');
        client.send(answer.frame);
      },
    );
  }

  /** Pings every client; one that has not answered the previous ping is dropped. Keeps held slots alive. */
  async heartbeat() {
    const held = [...this.#held].flatMap(([socketId, keys]) => keys.map((key) => ({ key, socketId })));
    this.#slots.refresh(held).catch((err: unknown) => this.#logger.warn({ err }, 'socket slots not refreshed'));
    for (const room of await this.#rooms.settled()) {
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
    }
  }
}
