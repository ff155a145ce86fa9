import type { ColumnType, Generated, Selectable } from 'kysely';

export interface ProfilesTable {
  id: string;
  handle: string;
  display_name: string;
  bio: Generated<string>;
  avatar_url: string | null;
  followers_count: Generated<number>;
  following_count: Generated<number>;
  created_at: ColumnType<Date, never, never>;
}

export interface FollowsTable {
  follower_id: string;
  followee_id: string;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface UserDatabase {
  profiles: ProfilesTable;
  follows: FollowsTable;
}

export type ProfileRow = Selectable<ProfilesTable>;
