import { pgErrorCode } from '@livehouse/kit';
import type { Kysely, Transaction } from 'kysely';
import type { UserDatabase } from './db.ts';

type Db = Kysely<UserDatabase> | Transaction<UserDatabase>;

const profileColumns = [
  'profiles.id',
  'profiles.handle',
  'profiles.display_name',
  'profiles.bio',
  'profiles.avatar_url',
  'profiles.followers_count',
  'profiles.following_count',
  'profiles.created_at',
] as const;

/**
 * Inserts the profile unless one with this id exists (then returns that one, if the handle is the same);
 * `'handle_taken'` when the handle belongs to another id.
 */
export async function insertProfile(db: Db, p: { id: string; handle: string; displayName: string }) {
  const inserted = await db
    .insertInto('profiles')
    .values({ id: p.id, handle: p.handle, display_name: p.displayName })
    .onConflict((oc) => oc.doNothing())
    .returning(profileColumns)
    .executeTakeFirst()
    .catch((err: unknown) => {
      // ON CONFLICT DO NOTHING without a target covers the handle's unique index too; a race can still raise it.
      if (pgErrorCode(err) === '23505') return 'handle_taken' as const;
      throw err;
    });
  if (inserted) return inserted;
  const existing = await db.selectFrom('profiles').select(profileColumns).where('id', '=', p.id).executeTakeFirst();
  return existing?.handle === p.handle ? existing : 'handle_taken';
}

export function findProfile(db: Db, id: string) {
  return db.selectFrom('profiles').select(profileColumns).where('id', '=', id).executeTakeFirst();
}

export function findProfileByHandle(db: Db, handle: string) {
  return db.selectFrom('profiles').select(profileColumns).where('handle', '=', handle).executeTakeFirst();
}

/** One statement for any number of ids. */
export function findProfiles(db: Db, ids: readonly string[]) {
  return db.selectFrom('profiles').select(profileColumns).where('id', 'in', ids).execute();
}

export function updateProfile(
  db: Db,
  id: string,
  changes: { display_name?: string; bio?: string; avatar_url?: string | null },
) {
  return db.updateTable('profiles').set(changes).where('id', '=', id).returning(profileColumns).executeTakeFirst();
}

/**
 * `'followed'` when a new follow was recorded, `'already'` when it existed, `'unknown_user'` when
 * either user does not exist (the transaction is then aborted: the caller must roll it back).
 */
export async function insertFollow(trx: Transaction<UserDatabase>, followerId: string, followeeId: string) {
  const row = await trx
    .insertInto('follows')
    .values({ follower_id: followerId, followee_id: followeeId })
    .onConflict((oc) => oc.doNothing())
    .returning('created_at')
    .executeTakeFirst()
    .catch((err: unknown) => {
      if (pgErrorCode(err) === '23503') return 'unknown_user' as const;
      throw err;
    });
  if (row === 'unknown_user') return row;
  return row ? ('followed' as const) : ('already' as const);
}

export async function deleteFollow(trx: Transaction<UserDatabase>, followerId: string, followeeId: string) {
  const result = await trx
    .deleteFrom('follows')
    .where('follower_id', '=', followerId)
    .where('followee_id', '=', followeeId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Moves both counters in one statement; `delta` is +1 on follow, −1 on unfollow. */
export async function adjustFollowCounts(
  trx: Transaction<UserDatabase>,
  followerId: string,
  followeeId: string,
  delta: 1 | -1,
) {
  await trx
    .updateTable('profiles')
    .set((eb) => ({
      following_count: eb
        .case()
        .when('id', '=', followerId)
        .then(eb('following_count', '+', delta))
        .else(eb.ref('following_count'))
        .end(),
      followers_count: eb
        .case()
        .when('id', '=', followeeId)
        .then(eb('followers_count', '+', delta))
        .else(eb.ref('followers_count'))
        .end(),
    }))
    .where('id', 'in', [followerId, followeeId])
    .execute();
}

export async function isFollowing(db: Db, followerId: string, followeeId: string) {
  const row = await db
    .selectFrom('follows')
    .select('follower_id')
    .where('follower_id', '=', followerId)
    .where('followee_id', '=', followeeId)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * A page of followers (direction 'followers': who follows `id`) or followings, newest first,
 * with the other side's profile joined in: one statement per page.
 */
export function listFollows(
  db: Db,
  direction: 'followers' | 'following',
  id: string,
  limit: number,
  after: { createdAt: Date; otherId: string } | undefined,
) {
  const [own, other] =
    direction === 'followers' ? (['followee_id', 'follower_id'] as const) : (['follower_id', 'followee_id'] as const);
  let query = db
    .selectFrom('follows')
    .innerJoin('profiles', 'profiles.id', `follows.${other}`)
    .select([...profileColumns, 'follows.created_at as followed_at'])
    .where(`follows.${own}`, '=', id)
    .orderBy('follows.created_at', 'desc')
    .orderBy(`follows.${other}`, 'desc')
    .limit(limit + 1);
  if (after) {
    query = query.where((eb) =>
      eb(eb.refTuple('follows.created_at', `follows.${other}`), '<', eb.tuple(after.createdAt, after.otherId)),
    );
  }
  return query.execute();
}
