import { type Kysely, sql, type Transaction } from 'kysely';
import type { ChannelImageRow, ThumbnailDatabase, ThumbnailRow } from './db.ts';

type Db = Kysely<ThumbnailDatabase>;
type Trx = Transaction<ThumbnailDatabase>;

const SIZE_ORDER = sql<number>`split_part(size, 'x', 1)::int`;

export async function findThumbnails(db: Db, streamIds: readonly string[]): Promise<ThumbnailRow[]> {
  if (streamIds.length === 0) return [];
  return db
    .selectFrom('thumbnails')
    .selectAll()
    .where('stream_id', 'in', streamIds)
    .orderBy('stream_id')
    .orderBy(SIZE_ORDER, 'desc')
    .orderBy('format', 'desc')
    .execute();
}

export async function findThumbnail(db: Db, streamId: string, size: string, format: 'webp' | 'jpeg') {
  return db
    .selectFrom('thumbnails')
    .select(['etag', 'storage_key', 'bytes'])
    .where('stream_id', '=', streamId)
    .where('size', '=', size)
    .where('format', '=', format)
    .executeTakeFirst();
}

/**
 * Replaces a stream's set in one transaction; returns the storage keys that no row names any more.
 * A transaction-scoped advisory lock per stream serialises two generations of the same stream
 * (an event and an on-demand call), so neither leaves the other's files orphaned.
 */
export async function replaceThumbnails(trx: Trx, streamId: string, rows: readonly ThumbnailRow[]): Promise<string[]> {
  await lock(trx, `stream:${streamId}`);
  const old = await trx.deleteFrom('thumbnails').where('stream_id', '=', streamId).returning('storage_key').execute();
  if (rows.length > 0) await trx.insertInto('thumbnails').values(rows).execute();
  const kept = new Set(rows.map((r) => r.storage_key));
  return old.map((r) => r.storage_key).filter((key) => !kept.has(key));
}

export async function findChannelImage(db: Db, channelId: string): Promise<ChannelImageRow | undefined> {
  return db.selectFrom('channel_images').selectAll().where('channel_id', '=', channelId).executeTakeFirst();
}

/** Upserts the channel's image; returns the storage key it replaced, if any and different. */
export async function replaceChannelImage(trx: Trx, row: ChannelImageRow): Promise<string | undefined> {
  // Locked even when there is no row yet, so two first uploads cannot both miss the other's file.
  await lock(trx, `channel:${row.channel_id}`);
  const old = await trx
    .selectFrom('channel_images')
    .select('storage_key')
    .where('channel_id', '=', row.channel_id)
    .executeTakeFirst();
  await trx
    .insertInto('channel_images')
    .values(row)
    .onConflict((oc) =>
      oc.column('channel_id').doUpdateSet({
        storage_key: row.storage_key,
        width: row.width,
        height: row.height,
        bytes: row.bytes,
        uploaded_by: row.uploaded_by,
        updated_at: row.updated_at,
      }),
    )
    .execute();
  return old && old.storage_key !== row.storage_key ? old.storage_key : undefined;
}

/** A transaction-scoped advisory lock on a name, released at commit or rollback. */
async function lock(trx: Trx, name: string) {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`thumbnail:${name}`}, 0))`.execute(trx);
}
