import { type Static, Type } from 'typebox';
import { CursorQuery, Handle, Id, Page, Text } from './common.ts';
import { route } from './routes.ts';

export const Profile = Type.Object({
  id: Id,
  handle: Type.String(),
  displayName: Type.String(),
  bio: Type.String(),
  avatarUrl: Type.Union([Type.String(), Type.Null()]),
  followersCount: Type.Integer(),
  followingCount: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
});
export type Profile = Static<typeof Profile>;

export const DisplayName = Text({ minLength: 1, maxLength: 50 });

export const CreateProfileBody = Type.Object(
  { handle: Handle, displayName: Type.Optional(DisplayName) },
  { additionalProperties: false },
);
export type CreateProfileBody = Static<typeof CreateProfileBody>;

export const UpdateProfileBody = Type.Object(
  {
    displayName: Type.Optional(DisplayName),
    bio: Type.Optional(Text({ maxLength: 500 })),
    avatarUrl: Type.Optional(
      Type.Union([Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 }), Type.Null()]),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateProfileBody = Static<typeof UpdateProfileBody>;

export const IdParams = Type.Object({ id: Id });
export const FollowParams = Type.Object({ id: Id, targetId: Id });
export const HandleParams = Type.Object({ handle: Handle });

/** `ids` is a comma-separated list of up to 100 user ids. */
export const BatchQuery = Type.Object(
  { ids: Type.String({ pattern: '^[0-9a-fA-F-]{36}(,[0-9a-fA-F-]{36}){0,99}$' }) },
  { additionalProperties: false },
);
export const ProfileList = Type.Object({ items: Type.Array(Profile) });
export type ProfileList = Static<typeof ProfileList>;

export const FollowEntry = Type.Object({ user: Profile, followedAt: Type.String({ format: 'date-time' }) });
export const FollowPage = Page(FollowEntry);
export type FollowPage = Static<typeof FollowPage>;
export const FollowListQuery = CursorQuery;

export const FollowState = Type.Object({ following: Type.Boolean() });
export type FollowState = Static<typeof FollowState>;

/** The internal API other services call (the kit generates `clients.user` from it). */
export const routes = {
  create: route({ method: 'PUT', path: '/users/:id', params: IdParams, body: CreateProfileBody, response: Profile }),
  profile: route({ method: 'GET', path: '/users/:id', params: IdParams, response: Profile }),
  byHandle: route({ method: 'GET', path: '/users/by-handle/:handle', params: HandleParams, response: Profile }),
  batch: route({ method: 'GET', path: '/users', query: BatchQuery, response: ProfileList }),
  update: route({ method: 'PATCH', path: '/users/:id', params: IdParams, body: UpdateProfileBody, response: Profile }),
  followState: route({
    method: 'GET',
    path: '/users/:id/following/:targetId',
    params: FollowParams,
    response: FollowState,
  }),
  follow: route({ method: 'PUT', path: '/users/:id/following/:targetId', params: FollowParams, response: FollowState }),
  unfollow: route({
    method: 'DELETE',
    path: '/users/:id/following/:targetId',
    params: FollowParams,
    response: FollowState,
  }),
  followers: route({
    method: 'GET',
    path: '/users/:id/followers',
    params: IdParams,
    query: FollowListQuery,
    response: FollowPage,
  }),
  following: route({
    method: 'GET',
    path: '/users/:id/following',
    params: IdParams,
    query: FollowListQuery,
    response: FollowPage,
  }),
};
