import { user } from '@livehouse/contracts';
import {
  AppError,
  decodeCursor,
  notFound,
  pgErrorCode,
  requireSelfOrAdmin,
  requireService,
  requireUser,
  type ServiceApp,
  toPage,
  writeEvent,
} from '@livehouse/kit';
import type { Kysely } from 'kysely';
import type { Static } from 'typebox';
import type { UserDatabase } from './db.ts';
import * as repo from './user.repository.ts';

export async function userRoutes(app: ServiceApp, db: Kysely<UserDatabase>) {
  // Called by auth when an account is created; idempotent on the id.
  app.put(
    '/users/:id',
    { schema: { params: user.IdParams, body: user.CreateProfileBody, response: { 200: user.Profile } } },
    async (request) => {
      requireService(request.caller, 'auth');
      const { id } = request.params;
      const { handle, displayName } = request.body;
      const row = await repo.insertProfile(db, { id, handle, displayName: displayName ?? handle }).catch((err) => {
        throw uniqueViolation(err) ? new AppError('handle_taken', `the handle ${handle} is taken`) : err;
      });
      if (!row) throw new AppError('handle_taken', `the handle ${handle} is taken`);
      return repo.toProfile(row);
    },
  );

  app.get('/users/:id', { schema: { params: user.IdParams, response: { 200: user.Profile } } }, async (request) => {
    const row = await repo.findProfile(db, request.params.id);
    if (!row) throw notFound('the user');
    return repo.toProfile(row);
  });

  app.get(
    '/users/by-handle/:handle',
    { schema: { params: user.HandleParams, response: { 200: user.Profile } } },
    async (request) => {
      const row = await repo.findProfileByHandle(db, request.params.handle);
      if (!row) throw notFound(`the user @${request.params.handle}`);
      return repo.toProfile(row);
    },
  );

  // Batch lookup: one statement for up to 100 ids; unknown ids are simply absent.
  app.get(
    '/users',
    { schema: { querystring: user.BatchQuery, response: { 200: user.ProfileList } } },
    async (request) => {
      const ids = [...new Set(request.query.ids.toLowerCase().split(','))];
      const rows = await repo.findProfiles(db, ids);
      return { items: rows.map(repo.toProfile) };
    },
  );

  app.patch(
    '/users/:id',
    { schema: { params: user.IdParams, body: user.UpdateProfileBody, response: { 200: user.Profile } } },
    async (request) => {
      requireSelfOrAdmin(request.caller, request.params.id);
      const { displayName, bio, avatarUrl } = request.body;
      const row = await repo.updateProfile(db, request.params.id, {
        ...(displayName !== undefined && { display_name: displayName }),
        ...(bio !== undefined && { bio }),
        ...(avatarUrl !== undefined && { avatar_url: avatarUrl }),
      });
      if (!row) throw notFound('the user');
      return repo.toProfile(row);
    },
  );

  app.get(
    '/users/:id/following/:targetId',
    { schema: { params: user.FollowParams, response: { 200: user.FollowState } } },
    async (request) => ({ following: await repo.isFollowing(db, request.params.id, request.params.targetId) }),
  );

  app.put(
    '/users/:id/following/:targetId',
    { schema: { params: user.FollowParams, response: { 200: user.FollowState } } },
    async (request) => {
      const { id, targetId } = request.params;
      requireSelfOrAdmin(request.caller, id);
      if (id === targetId) throw new AppError('bad_request', 'you cannot follow yourself');
      await db
        .transaction()
        .execute(async (trx) => {
          if (await repo.insertFollow(trx, id, targetId)) {
            await repo.adjustFollowCounts(trx, id, targetId, 1);
            await writeEvent(trx, 'user.followed', followKey(id, targetId), { followerId: id, followeeId: targetId });
          }
        })
        .catch((err) => {
          throw foreignKeyViolation(err) ? notFound('the user to follow') : err;
        });
      return { following: true };
    },
  );

  app.delete(
    '/users/:id/following/:targetId',
    { schema: { params: user.FollowParams, response: { 200: user.FollowState } } },
    async (request) => {
      const { id, targetId } = request.params;
      requireSelfOrAdmin(request.caller, id);
      await db.transaction().execute(async (trx) => {
        if (await repo.deleteFollow(trx, id, targetId)) {
          await repo.adjustFollowCounts(trx, id, targetId, -1);
          await writeEvent(trx, 'user.unfollowed', followKey(id, targetId), { followerId: id, followeeId: targetId });
        }
      });
      return { following: false };
    },
  );

  for (const direction of ['followers', 'following'] as const) {
    app.get(
      `/users/:id/${direction}`,
      { schema: { params: user.IdParams, querystring: user.FollowListQuery, response: { 200: user.FollowPage } } },
      async (request) => followPage(db, direction, request.params.id, request.query),
    );
  }

  // The caller's own identity, for services that only know a user id.
  app.get('/me', { schema: { response: { 200: user.Profile } } }, async (request) => {
    const row = await repo.findProfile(db, requireUser(request.caller).id);
    if (!row) throw notFound('your profile');
    return repo.toProfile(row);
  });
}

async function followPage(
  db: Kysely<UserDatabase>,
  direction: 'followers' | 'following',
  id: string,
  query: Static<typeof user.FollowListQuery>,
) {
  const limit = query.limit ?? 20;
  const key = decodeCursor(query.cursor, 2);
  const after = key && { createdAt: new Date(key[0] as number), otherId: String(key[1]) };
  const rows = await repo.listFollows(db, direction, id, limit, after);
  // An empty first page may mean an unknown user: only then does it cost a second statement.
  if (rows.length === 0 && !after && !(await repo.findProfile(db, id))) throw notFound('the user');
  const page = toPage(rows, limit, (r) => [r.followed_at.getTime(), r.id]);
  return {
    items: page.items.map((r) => ({ user: repo.toProfile(r), followedAt: r.followed_at.toISOString() })),
    nextCursor: page.nextCursor,
  };
}

/** One key per pair: a follow and the unfollow after it are delivered in that order. */
const followKey = (followerId: string, followeeId: string) => `${followerId}:${followeeId}`;

const uniqueViolation = (err: unknown) => pgErrorCode(err) === '23505';
const foreignKeyViolation = (err: unknown) => pgErrorCode(err) === '23503';
