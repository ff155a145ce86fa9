import type { user } from '@livehouse/contracts';
import { AppError, type Caller, decodeCursor, notFound, requireSelfOrAdmin, toPage, writeEvent } from '@livehouse/kit';
import type { Kysely } from 'kysely';
import type { Static } from 'typebox';
import type { UserDatabase } from './db.ts';
import { toFollow, toProfile } from './user.mappers.ts';
import * as repo from './user.repository.ts';

type Db = Kysely<UserDatabase>;

/** Called by auth when an account is created; idempotent on the id. */
export async function createProfile(db: Db, id: string, body: user.CreateProfileBody): Promise<user.Profile> {
  const { handle, displayName } = body;
  const row = await repo.insertProfile(db, { id, handle, displayName: displayName ?? handle });
  if (row === 'handle_taken') throw new AppError('handle_taken', `the handle ${handle} is taken`);
  return toProfile(row);
}

export async function profile(db: Db, id: string, what = 'the user'): Promise<user.Profile> {
  const row = await repo.findProfile(db, id);
  if (!row) throw notFound(what);
  return toProfile(row);
}

export async function profileByHandle(db: Db, handle: string): Promise<user.Profile> {
  const row = await repo.findProfileByHandle(db, handle);
  if (!row) throw notFound(`the user @${handle}`);
  return toProfile(row);
}

/** Batch lookup: one statement for up to 100 ids; unknown ids are simply absent. */
export async function profiles(db: Db, ids: readonly string[]): Promise<user.ProfileList> {
  return { items: (await repo.findProfiles(db, ids)).map(toProfile) };
}

export async function updateProfile(db: Db, caller: Caller, id: string, body: user.UpdateProfileBody) {
  requireSelfOrAdmin(caller, id);
  const { displayName, bio, avatarUrl } = body;
  const row = await repo.updateProfile(db, id, {
    ...(displayName !== undefined && { display_name: displayName }),
    ...(bio !== undefined && { bio }),
    ...(avatarUrl !== undefined && { avatar_url: avatarUrl }),
  });
  if (!row) throw notFound('the user');
  return toProfile(row);
}

export async function isFollowing(db: Db, id: string, targetId: string): Promise<user.FollowState> {
  return { following: await repo.isFollowing(db, id, targetId) };
}

/** Idempotent: a second follow changes nothing and writes no event. */
export async function follow(db: Db, caller: Caller, id: string, targetId: string): Promise<user.FollowState> {
  requireSelfOrAdmin(caller, id);
  if (id === targetId) throw new AppError('bad_request', 'you cannot follow yourself');
  await db.transaction().execute(async (trx) => {
    const outcome = await repo.insertFollow(trx, id, targetId);
    // Thrown inside the transaction: it is rolled back (the failed insert aborted it anyway).
    if (outcome === 'unknown_user') throw notFound('the user to follow');
    if (outcome === 'followed') {
      await repo.adjustFollowCounts(trx, id, targetId, 1);
      await writeEvent(trx, 'user.followed', followKey(id, targetId), { followerId: id, followeeId: targetId });
    }
  });
  return { following: true };
}

export async function unfollow(db: Db, caller: Caller, id: string, targetId: string): Promise<user.FollowState> {
  requireSelfOrAdmin(caller, id);
  await db.transaction().execute(async (trx) => {
    if (await repo.deleteFollow(trx, id, targetId)) {
      await repo.adjustFollowCounts(trx, id, targetId, -1);
      await writeEvent(trx, 'user.unfollowed', followKey(id, targetId), { followerId: id, followeeId: targetId });
    }
  });
  return { following: false };
}

/** A page of followers or followings, newest first. */
export async function followPage(
  db: Db,
  direction: 'followers' | 'following',
  id: string,
  query: Static<typeof user.FollowListQuery>,
): Promise<user.FollowPage> {
  const limit = query.limit ?? 20;
  const key = decodeCursor(query.cursor, ['time', 'uuid']);
  const after = key && { createdAt: key[0], otherId: key[1] };
  const rows = await repo.listFollows(db, direction, id, limit, after);
  // An empty first page may mean an unknown user: only then does it cost a second statement.
  if (rows.length === 0 && !after && !(await repo.findProfile(db, id))) throw notFound('the user');
  const page = toPage(rows, limit, (r) => [r.followed_at, r.id]);
  return { items: page.items.map(toFollow), nextCursor: page.nextCursor };
}

/** One key per pair: a follow and the unfollow after it are delivered in that order. */
const followKey = (followerId: string, followeeId: string) => `${followerId}:${followeeId}`;
