import type { chat } from '@livehouse/contracts';
import { AppError, type Caller } from '@livehouse/kit';
import type { Kysely } from 'kysely';
import type { ChatConfig } from './chat.config.ts';
import * as repo from './chat.repository.ts';
import type { ChatDatabase } from './db.ts';
import { validateText } from './frames.ts';
import type { Persister } from './persister.ts';
import { isModerator, type Room } from './room.ts';
import type { AppendResult, RoomLog } from './room-log.ts';
import type { Rooms } from './rooms.ts';

export interface Appended {
  id: number;
  at: number;
}

/**
 * Everything that goes into a room's log: users' messages (with the per-user limits, refused once
 * the stream ended) and system items (moderation, settings, stamps); each appended item is then
 * written behind to PostgreSQL.
 */
export class RoomWriter {
  readonly #db: Kysely<ChatDatabase>;
  readonly #log: RoomLog;
  readonly #rooms: Rooms;
  readonly #config: ChatConfig;
  readonly #persister: Persister;

  constructor(options: {
    db: Kysely<ChatDatabase>;
    log: RoomLog;
    rooms: Rooms;
    config: ChatConfig;
    persister: Persister;
  }) {
    this.#db = options.db;
    this.#log = options.log;
    this.#rooms = options.rooms;
    this.#config = options.config;
    this.#persister = options.persister;
  }

  async post(room: Room, caller: Caller, rawText: string): Promise<Appended> {
    if (!caller.user) throw new AppError('unauthorized', 'log in to post: anonymous readers may only read');
    const user = caller.user;
    if (room.bans.has(user.id)) throw new AppError('forbidden', 'you are banned from this room');
    if (room.info.state === 'ended') throw new AppError('conflict', 'the stream has ended: its chat is read-only');
    const text = validateText(rawText, this.#config.maxMessageLength);
    const s = room.settings;
    const limits = isModerator(room.info, user)
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

  /** An item of the room itself; `appended` is absent when the dedupe key was seen. */
  async appendSystem(
    streamId: string,
    type: string,
    body: Record<string, unknown>,
    options: { dedupeKey?: string; db?: Kysely<ChatDatabase> } = {},
  ) {
    const { dedupeKey, db = this.#db } = options;
    // Not awaiting a room that is still opening: it queries outside `db`'s transaction.
    const floor = this.#rooms.opened(streamId)?.floor ?? (await repo.maxItemId(db, streamId));
    const json = JSON.stringify({ type, ...body });
    const result = await this.#log.append(streamId, type, json, { floor, ...(dedupeKey && { dedupeKey }) });
    return { result, appended: result.ok ? this.#appended(streamId, type, null, result) : undefined };
  }

  /** A message hidden after the fact (PostgreSQL keeps it, marked). */
  deleted(streamId: string, messageId: number) {
    this.#persister.delete(streamId, messageId, new Date());
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
}
