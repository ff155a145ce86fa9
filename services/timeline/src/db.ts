import type { ProcessedEventsDatabase } from '@livehouse/kit';
import type { ColumnType, Selectable } from 'kysely';

/** timeline's own copy of the follow graph, built from user.followed / user.unfollowed. */
export interface FollowsTable {
  follower_id: string;
  followee_id: string;
  created_at: ColumnType<Date, Date, never>;
}

/** One row per "went live": written once, read by every follower (joined, or merged at read time). */
export interface PostsTable {
  /** The id of the event that made it, and of the timeline item. */
  id: string;
  type: 'stream.started';
  stream_id: string;
  channel_id: string;
  owner_id: string;
  title: string;
  category_id: string | null;
  at: Date;
  ended_at: Date | null;
  /** false: the owner had too many followers; followers' timelines merge the post at read time. */
  fanned_out: boolean;
}

/** Fan-out on write: one row per follower and post. */
export interface TimelineEntriesTable {
  user_id: string;
  post_id: string;
  at: Date;
}

export interface TimelineDatabase extends ProcessedEventsDatabase {
  follows: FollowsTable;
  posts: PostsTable;
  timeline_entries: TimelineEntriesTable;
}

export type PostRow = Selectable<PostsTable>;
