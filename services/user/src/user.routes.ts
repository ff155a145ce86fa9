import { user } from '@livehouse/contracts';
import { requireService, requireUser, type ServiceApp } from '@livehouse/kit';
import type { Kysely } from 'kysely';
import type { UserDatabase } from './db.ts';
import * as service from './user.service.ts';

/** HTTP only: schemas, callers' permissions that are about the route, and the service call. */
export async function userRoutes(app: ServiceApp, db: Kysely<UserDatabase>) {
  // Called by auth when an account is created; idempotent on the id.
  app.put(
    '/users/:id',
    { schema: { params: user.IdParams, body: user.CreateProfileBody, response: { 200: user.Profile } } },
    async (request) => {
      requireService(request.caller, 'auth');
      return service.createProfile(db, request.params.id, request.body);
    },
  );

  app.get('/users/:id', { schema: { params: user.IdParams, response: { 200: user.Profile } } }, async (request) =>
    service.profile(db, request.params.id),
  );

  app.get(
    '/users/by-handle/:handle',
    { schema: { params: user.HandleParams, response: { 200: user.Profile } } },
    async (request) => service.profileByHandle(db, request.params.handle),
  );

  // Batch lookup: one statement for up to 100 ids; unknown ids are simply absent.
  app.get(
    '/users',
    { schema: { querystring: user.BatchQuery, response: { 200: user.ProfileList } } },
    async (request) => service.profiles(db, [...new Set(request.query.ids.toLowerCase().split(','))]),
  );

  app.patch(
    '/users/:id',
    { schema: { params: user.IdParams, body: user.UpdateProfileBody, response: { 200: user.Profile } } },
    async (request) => service.updateProfile(db, request.caller, request.params.id, request.body),
  );

  app.get(
    '/users/:id/following/:targetId',
    { schema: { params: user.FollowParams, response: { 200: user.FollowState } } },
    async (request) => service.isFollowing(db, request.params.id, request.params.targetId),
  );

  app.put(
    '/users/:id/following/:targetId',
    { schema: { params: user.FollowParams, response: { 200: user.FollowState } } },
    async (request) => service.follow(db, request.caller, request.params.id, request.params.targetId),
  );

  app.delete(
    '/users/:id/following/:targetId',
    { schema: { params: user.FollowParams, response: { 200: user.FollowState } } },
    async (request) => service.unfollow(db, request.caller, request.params.id, request.params.targetId),
  );

  for (const direction of ['followers', 'following'] as const) {
    app.get(
      `/users/:id/${direction}`,
      { schema: { params: user.IdParams, querystring: user.FollowListQuery, response: { 200: user.FollowPage } } },
      async (request) => service.followPage(db, direction, request.params.id, request.query),
    );
  }

  // The caller's own identity, for services that only know a user id.
  app.get('/me', { schema: { response: { 200: user.Profile } } }, async (request) =>
    service.profile(db, requireUser(request.caller).id, 'your profile'),
  );
}
