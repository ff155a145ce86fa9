import type { chat } from '@livehouse/contracts';
import type { Kysely } from 'kysely';
import type { ChatDatabase } from './db.ts';

type Db = Kysely<ChatDatabase>;

export interface ItemRow {
  streamId: string;
  id: number;
  type: string;
  userId: string | null;
  json: string;
  at: number;
}

/** Idempotent: a batch written twice (a retry after a failure) changes nothing. */
export async function insertItems(db: Db, rows: readonly ItemRow[]) {
  if (rows.length === 0) return;
  await db
    .insertInto('items')
    .values(
      rows.map((r) => ({
        stream_id: r.streamId,
        id: r.id,
        type: r.type,
        user_id: r.userId,
        item: r.json,
        created_at: new Date(r.at),
      })),
    )
    .onConflict((oc) => oc.columns(['stream_id', 'id']).doNothing())
    .execute();
}

export async function markDeleted(db: Db, streamId: string, ids: readonly number[], at: Date) {
  if (ids.length === 0) return;
  await db
    .updateTable('items')
    .set({ deleted_at: at })
    .where('stream_id', '=', streamId)
    .where('id', 'in', ids)
    .where('type', '=', 'message')
    .execute();
}

/** The room's highest stored id: where ids continue if Redis lost the room. */
export async function maxItemId(db: Db, streamId: string): Promise<number> {
  const row = await db
    .selectFrom('items')
    .select((eb) => eb.fn.max('id').as('max'))
    .where('stream_id', '=', streamId)
    .executeTakeFirst();
  return Number(row?.max ?? 0);
}

/** The last `limit` visible messages and stamps, ascending, as JSON text. */
export async function recentVisibleItems(
  db: Db,
  streamId: string,
  limit: number,
): Promise<{ id: number; json: string }[]> {
  const rows = await db
    .selectFrom('items')
    .select(['id', 'item'])
    .where('stream_id', '=', streamId)
    .where('type', 'in', ['message', 'stamp'])
    .where('deleted_at', 'is', null)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.reverse().map((r) => ({ id: Number(r.id), json: JSON.stringify(r.item) }));
}

export async function isBanned(db: Db, streamId: string, userId: string) {
  const row = await db
    .selectFrom('bans')
    .select('user_id')
    .where('stream_id', '=', streamId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function bannedUsers(db: Db, streamId: string): Promise<string[]> {
  const rows = await db.selectFrom('bans').select('user_id').where('stream_id', '=', streamId).execute();
  return rows.map((r) => r.user_id);
}

/** True when the user was not banned before. */
export async function ban(db: Db, streamId: string, userId: string, by: string) {
  const result = await db
    .insertInto('bans')
    .values({ stream_id: streamId, user_id: userId, banned_by: by })
    .onConflict((oc) => oc.columns(['stream_id', 'user_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** True when the user was banned. */
export async function unban(db: Db, streamId: string, userId: string) {
  const result = await db
    .deleteFrom('bans')
    .where('stream_id', '=', streamId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function findSettings(db: Db, channelId: string): Promise<chat.RoomSettings | undefined> {
  const row = await db
    .selectFrom('channel_settings')
    .selectAll()
    .where('channel_id', '=', channelId)
    .executeTakeFirst();
  return (
    row && {
      rateLimitMax: row.rate_limit_max,
      rateLimitWindowMs: row.rate_limit_window_ms,
      muteMs: row.mute_ms,
      slowModeSeconds: row.slow_mode_seconds,
    }
  );
}

export async function saveSettings(db: Db, channelId: string, s: chat.RoomSettings) {
  const values = {
    rate_limit_max: s.rateLimitMax,
    rate_limit_window_ms: s.rateLimitWindowMs,
    mute_ms: s.muteMs,
    slow_mode_seconds: s.slowModeSeconds,
  };
  await db
    .insertInto('channel_settings')
    .values({ channel_id: channelId, ...values })
    .onConflict((oc) => oc.column('channel_id').doUpdateSet({ ...values, updated_at: new Date() }))
    .execute();
}
