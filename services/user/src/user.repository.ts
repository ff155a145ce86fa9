import { pgErrorCode, statement } from '@livehouse/kit';
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

const findProfileStatement = statement(
  'user.findProfile',
  (db: Kysely<UserDatabase>, a: { id: string }) =>
    db.selectFrom('profiles').select(profileColumns).where('id', '=', a.id),
  { id: '00000000-0000-4000-8000-000000000001' },
);

export function findProfile(db: Db, id: string) {
  return findProfileStatement.first(db, { id });
}

export function findProfileByHandle(db: Db, handle: string) {
  return db.selectFrom('profiles').select(profileColumns).where('handle', '=', handle).executeTakeFirst();
}

/** One statement (and one compiled shape: `= any($1)`) for any number of ids. */
const findProfilesStatement = statement(
  'user.findProfiles',
  (db: Kysely<UserDatabase>, a: { ids: readonly string[] }) =>
    db
      .selectFrom('profiles')
      .select(profileColumns)
      .where('id', '=', (eb) => eb.fn.any(eb.val(a.ids))),
  { ids: ['00000000-0000-4000-8000-000000000001'] },
);

export function findProfiles(db: Db, ids: readonly string[]) {
  return findProfilesStatement.rows(db, { ids });
}

export function updateProfile(
  db: Db,
  id: string,
  changes: { display_name?: string; bio?: string; avatar_url?: string | null },
) {
  return db.updateTable('profiles').set(changes).where('id', '=', id).returning(profileColumns).executeTakeFirst();
}

const insertFollowStatement = statement(
  'user.insertFollow',
  (db: Kysely<UserDatabase>, a: { follower_id: string; followee_id: string }) =>
    db
      .insertInto('follows')
      .values(a)
      .onConflict((oc) => oc.doNothing())
      .returning('created_at'),
  { follower_id: '00000000-0000-4000-8000-000000000001', followee_id: '00000000-0000-4000-8000-000000000002' },
);

/**
 * `'followed'` when a new follow was recorded, `'already'` when it existed, `'unknown_user'` when
 * either user does not exist (the transaction is then aborted: the caller must roll it back).
 */
export async function insertFollow(trx: Transaction<UserDatabase>, followerId: string, followeeId: string) {
  const row = await insertFollowStatement
    .first(trx, { follower_id: followerId, followee_id: followeeId })
    .catch((err: unknown) => {
      if (pgErrorCode(err) === '23503') return 'unknown_user' as const;
      throw err;
    });
  if (row === 'unknown_user') return row;
  return row ? ('followed' as const) : ('already' as const);
}

const deleteFollowStatement = statement(
  'user.deleteFollow',
  (db: Kysely<UserDatabase>, a: { followerId: string; followeeId: string }) =>
    db.deleteFrom('follows').where('follower_id', '=', a.followerId).where('followee_id', '=', a.followeeId),
  { followerId: '00000000-0000-4000-8000-000000000001', followeeId: '00000000-0000-4000-8000-000000000002' },
);

export async function deleteFollow(trx: Transaction<UserDatabase>, followerId: string, followeeId: string) {
  const result = await deleteFollowStatement.execute(trx, { followerId, followeeId });
  return (result.numAffectedRows ?? 0n) > 0n;
}

/** Moves both counters in one statement; `delta` is +1 on follow, −1 on unfollow. */
const adjustFollowCountsStatement = statement(
  'user.adjustFollowCounts',
  (db: Kysely<UserDatabase>, a: { followerId: string; followeeId: string; delta: 1 | -1 }) =>
    db
      .updateTable('profiles')
      .set((eb) => ({
        following_count: eb
          .case()
          .when('id', '=', a.followerId)
          .then(eb('following_count', '+', a.delta))
          .else(eb.ref('following_count'))
          .end(),
        followers_count: eb
          .case()
          .when('id', '=', a.followeeId)
          .then(eb('followers_count', '+', a.delta))
          .else(eb.ref('followers_count'))
          .end(),
      }))
      .where('id', 'in', [a.followerId, a.followeeId]),
  { followerId: '00000000-0000-4000-8000-000000000001', followeeId: '00000000-0000-4000-8000-000000000002', delta: 1 },
);

export async function adjustFollowCounts(
  trx: Transaction<UserDatabase>,
  followerId: string,
  followeeId: string,
  delta: 1 | -1,
) {
  await adjustFollowCountsStatement.execute(trx, { followerId, followeeId, delta });
}

const isFollowingStatement = statement(
  'user.isFollowing',
  (db: Kysely<UserDatabase>, a: { followerId: string; followeeId: string }) =>
    db
      .selectFrom('follows')
      .select('follower_id')
      .where('follower_id', '=', a.followerId)
      .where('followee_id', '=', a.followeeId),
  { followerId: '00000000-0000-4000-8000-000000000001', followeeId: '00000000-0000-4000-8000-000000000002' },
);

export async function isFollowing(db: Db, followerId: string, followeeId: string) {
  return (await isFollowingStatement.first(db, { followerId, followeeId })) !== undefined;
}

/** Per direction: which follows column is the listed user's own, and which is the other side's. */
const sides = {
  followers: ['followee_id', 'follower_id'],
  following: ['follower_id', 'followee_id'],
} as const;

function listFollowsStatement(direction: 'followers' | 'following') {
  const [own, other] = sides[direction];
  return statement(
    `user.listFollows.${direction}`,
    (
      db: Kysely<UserDatabase>,
      a: { id: string; rows: number; after?: { createdAt: Date; otherId: string } | undefined },
    ) => {
      let query = db
        .selectFrom('follows')
        .innerJoin('profiles', 'profiles.id', `follows.${other}`)
        .select([...profileColumns, 'follows.created_at as followed_at'])
        .where(`follows.${own}`, '=', a.id)
        .orderBy('follows.created_at', 'desc')
        .orderBy(`follows.${other}`, 'desc')
        .limit(a.rows);
      const after = a.after;
      if (after !== undefined) {
        query = query.where((eb) =>
          eb(eb.refTuple('follows.created_at', `follows.${other}`), '<', eb.tuple(after.createdAt, after.otherId)),
        );
      }
      return query;
    },
    { id: '00000000-0000-4000-8000-000000000001', rows: 21 },
  );
}
const listFollowsStatements = {
  followers: listFollowsStatement('followers'),
  following: listFollowsStatement('following'),
};

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
  return listFollowsStatements[direction].rows(db, { id, rows: limit + 1, after });
}
