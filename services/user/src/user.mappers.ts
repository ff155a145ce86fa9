import type { user } from '@livehouse/contracts';
import type { Static } from 'typebox';
import type { ProfileRow } from './db.ts';

/** API shapes from rows: the only place that knows both. */
export function toProfile(row: ProfileRow): user.Profile {
  return {
    id: row.id,
    handle: row.handle,
    displayName: row.display_name,
    bio: row.bio,
    avatarUrl: row.avatar_url,
    followersCount: row.followers_count,
    followingCount: row.following_count,
    createdAt: row.created_at.toISOString(),
  };
}

export function toFollow(row: ProfileRow & { followed_at: Date }): Static<typeof user.FollowEntry> {
  return { user: toProfile(row), followedAt: row.followed_at.toISOString() };
}
