import type { timeline } from '@livehouse/contracts';
import { statement } from '@livehouse/kit';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { PostRow, PostsTable, TimelineDatabase } from './db.ts';

type Db = Kysely<TimelineDatabase> | Transaction<TimelineDatabase>;
type Trx = Transaction<TimelineDatabase>;

export function toItem(row: PostRow): timeline.TimelineItem {
  return {
    id: row.id,
    type: row.type,
    streamId: row.stream_id,
    channelId: row.channel_id,
    ownerId: row.owner_id,
    title: row.title,
    categoryId: row.category_id,
    at: row.at.toISOString(),
    live: row.ended_at === null,
    endedAt: row.ended_at?.toISOString() ?? null,
  };
}

/** Returns true when the follow is new. */
export async function insertFollow(trx: Trx, followerId: string, followeeId: string, at: Date) {
  const row = await trx
    .insertInto('follows')
    .values({ follower_id: followerId, followee_id: followeeId, created_at: at })
    .onConflict((oc) => oc.doNothing())
    .returning('follower_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteFollow(trx: Trx, followerId: string, followeeId: string) {
  const result = await trx
    .deleteFrom('follows')
    .where('follower_id', '=', followerId)
    .where('followee_id', '=', followeeId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Followers of `ownerId`, counted only up to `limit`: deciding "big or not" never scans a big channel's followers. */
export async function countFollowersUpTo(trx: Trx, ownerId: string, limit: number) {
  const row = await trx
    .selectFrom((eb) =>
      eb.selectFrom('follows').select('follower_id').where('followee_id', '=', ownerId).limit(limit).as('f'),
    )
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Returns false when the stream already has a post (a redelivered or repeated start). */
export async function insertPost(trx: Trx, post: PostsTable) {
  const row = await trx
    .insertInto('posts')
    .values(post)
    .onConflict((oc) => oc.column('stream_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Fan-out on write: one statement, however many followers. */
export async function fanOut(trx: Trx, post: { id: string; ownerId: string; at: Date }) {
  await trx
    .insertInto('timeline_entries')
    .columns(['user_id', 'post_id', 'at'])
    .expression((eb) =>
      eb
        .selectFrom('follows')
        .select([
          'follows.follower_id',
          sql<string>`${post.id}::uuid`.as('post_id'),
          sql<Date>`${post.at}::timestamptz`.as('at'),
        ])
        .where('follows.followee_id', '=', post.ownerId),
    )
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function endPost(trx: Trx, streamId: string, endedAt: Date) {
  await trx.updateTable('posts').set({ ended_at: endedAt }).where('stream_id', '=', streamId).execute();
}

/** A new follower sees the owner's recent fanned-out posts too (posts of big channels are merged at read time anyway). */
export async function backfill(trx: Trx, followerId: string, ownerId: string, limit: number) {
  if (limit === 0) return;
  await trx
    .insertInto('timeline_entries')
    .columns(['user_id', 'post_id', 'at'])
    .expression((eb) =>
      eb
        .selectFrom('posts')
        .select([sql<string>`${followerId}::uuid`.as('user_id'), 'posts.id', 'posts.at'])
        .where('posts.owner_id', '=', ownerId)
        .where('posts.fanned_out', '=', true)
        .orderBy('posts.at', 'desc')
        .limit(limit),
    )
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function removeOwnerEntries(trx: Trx, followerId: string, ownerId: string) {
  await trx
    .deleteFrom('timeline_entries')
    .where('user_id', '=', followerId)
    .where('post_id', 'in', (eb) => eb.selectFrom('posts').select('posts.id').where('posts.owner_id', '=', ownerId))
    .execute();
}

/**
 * A post's columns, named: a statement whose result is `*` is never prepared (a migration adding a column
 * would break its cached plan), so the timeline page lists them.
 */
const postColumns = [
  'id',
  'type',
  'stream_id',
  'channel_id',
  'owner_id',
  'title',
  'category_id',
  'at',
  'ended_at',
  'fanned_out',
] as const satisfies readonly (keyof PostsTable)[];
const qualifiedPostColumns = postColumns.map((c) => `posts.${c}` as const);

/**
 * One page of a user's home timeline, newest first, in one statement: the posts fanned out to the
 * user on write, merged with the posts of the big channels the user follows (fan-out on read).
 */
const timelinePageStatement = statement(
  'timeline.timelinePage',
  (db: Kysely<TimelineDatabase>, a: { userId: string; rows: number; after?: { at: Date; id: string } | undefined }) => {
    const after = a.after;
    return db
      .with('pushed', (qb) => {
        let q = qb
          .selectFrom('timeline_entries')
          .innerJoin('posts', 'posts.id', 'timeline_entries.post_id')
          .select(qualifiedPostColumns)
          .where('timeline_entries.user_id', '=', a.userId)
          .orderBy('timeline_entries.at', 'desc')
          .orderBy('timeline_entries.post_id', 'desc')
          .limit(a.rows);
        if (after !== undefined) {
          q = q.where((eb) =>
            eb(eb.refTuple('timeline_entries.at', 'timeline_entries.post_id'), '<', eb.tuple(after.at, after.id)),
          );
        }
        return q;
      })
      .with('pulled', (qb) => {
        let q = qb
          .selectFrom('follows')
          .innerJoin('posts', 'posts.owner_id', 'follows.followee_id')
          .select(qualifiedPostColumns)
          .where('follows.follower_id', '=', a.userId)
          .where('posts.fanned_out', '=', false)
          .orderBy('posts.at', 'desc')
          .orderBy('posts.id', 'desc')
          .limit(a.rows);
        if (after !== undefined) {
          q = q.where((eb) => eb(eb.refTuple('posts.at', 'posts.id'), '<', eb.tuple(after.at, after.id)));
        }
        return q;
      })
      .selectFrom('pushed')
      .select(postColumns)
      .unionAll((eb) => eb.selectFrom('pulled').select(postColumns))
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(a.rows);
  },
  { userId: '00000000-0000-4000-8000-000000000001', rows: 21 },
);

export function timelinePage(db: Db, userId: string, limit: number, after: { at: Date; id: string } | undefined) {
  return timelinePageStatement.rows(db, { userId, rows: limit + 1, after });
}
