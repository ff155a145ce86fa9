import { chat } from '@livehouse/contracts';
import { AppError, type Caller, type Clients, notFound } from '@livehouse/kit';
import type { Kysely } from 'kysely';
import * as repo from './chat.repository.ts';
import type { ChatDatabase } from './db.ts';
import { isModerator, type Room } from './room.ts';
import type { LogEntry, RoomLog } from './room-log.ts';
import type { Rooms } from './rooms.ts';
import type { Appended, RoomWriter } from './writer.ts';

/**
 * Items that change a room's state on every instance, in log order: a ban kicks the user's sockets
 * (4003) and refuses their posts, an unban lifts that, settings replace the room's.
 */
export function applyControl(room: Room, entry: LogEntry) {
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

/** Moderators (the channel owner, admins) delete messages, ban and unban users; owners change settings. */
export class Moderation {
  readonly #db: Kysely<ChatDatabase>;
  readonly #log: RoomLog;
  readonly #rooms: Rooms;
  readonly #writer: RoomWriter;
  readonly #contents: Clients['contents'];

  constructor(options: {
    db: Kysely<ChatDatabase>;
    log: RoomLog;
    rooms: Rooms;
    writer: RoomWriter;
    contents: Clients['contents'];
  }) {
    this.#db = options.db;
    this.#log = options.log;
    this.#rooms = options.rooms;
    this.#writer = options.writer;
    this.#contents = options.contents;
  }

  async requireModerator(streamId: string, caller: Caller) {
    if (!caller.user) throw new AppError('unauthorized', 'log in first: moderation needs a user');
    const info = await this.#rooms.streamInfo(streamId);
    if (!isModerator(info, caller.user)) {
      throw new AppError('forbidden', 'only the channel owner or an admin may moderate this room');
    }
    return caller.user;
  }

  async deleteMessage(streamId: string, caller: Caller, messageId: number): Promise<Appended> {
    const by = await this.requireModerator(streamId, caller);
    const head = Math.max(await this.#log.head(streamId), (await this.#rooms.local(streamId))?.lastId ?? 0);
    if (messageId > head) throw notFound(`message ${messageId}`);
    const { appended } = await this.#writer.appendSystem(streamId, 'delete', { messageId, by: by.id });
    this.#writer.deleted(streamId, messageId);
    return appended as Appended;
  }

  async ban(streamId: string, caller: Caller, userId: string): Promise<Appended> {
    const by = await this.requireModerator(streamId, caller);
    const info = await this.#rooms.streamInfo(streamId);
    if (userId === info.ownerId) throw new AppError('conflict', 'the channel owner cannot be banned from their room');
    // The ban is stored before it is announced: a client that reconnects right after is refused.
    await repo.ban(this.#db, streamId, userId, by.id);
    // This instance at once; every instance (this one again) when the item arrives.
    const room = await this.#rooms.local(streamId);
    room?.bans.add(userId);
    room?.kick(userId, chat.CloseCode.banned, 'banned from this room');
    const { appended } = await this.#writer.appendSystem(streamId, 'ban', { userId, by: by.id });
    return appended as Appended;
  }

  async unban(streamId: string, caller: Caller, userId: string): Promise<Appended> {
    const by = await this.requireModerator(streamId, caller);
    if (!(await repo.unban(this.#db, streamId, userId))) throw notFound('the ban');
    (await this.#rooms.local(streamId))?.bans.delete(userId);
    const { appended } = await this.#writer.appendSystem(streamId, 'unban', { userId, by: by.id });
    return appended as Appended;
  }

  /** The owner (or an admin) changes a channel's settings; its live room learns them in order. */
  async updateSettings(channelId: string, caller: Caller, patch: chat.UpdateRoomSettingsBody) {
    if (!caller.user) throw new AppError('unauthorized', 'log in first');
    const channel = await this.#contents.channel({ params: { id: channelId } });
    if (channel.ownerId !== caller.user.id && !caller.user.roles.includes('admin')) {
      throw new AppError('forbidden', 'only the channel owner or an admin may change its chat settings');
    }
    const settings = { ...(await this.#rooms.settings(channelId)), ...patch };
    await repo.saveSettings(this.#db, channelId, settings);
    if (channel.liveStreamId) await this.#writer.appendSystem(channel.liveStreamId, 'settings', { settings });
    return settings;
  }
}
