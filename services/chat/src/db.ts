import type { ProcessedEventsDatabase } from '@livehouse/kit';
import type { ColumnType } from 'kysely';

/** Every item of every room, written behind the Redis log (PostgreSQL is the durable archive). */
export interface ItemsTable {
  stream_id: string;
  /** The item's id in its room: 1, 2, 3, … */
  id: number;
  type: string;
  user_id: string | null;
  /** The item exactly as clients receive it. */
  item: ColumnType<unknown, string, never>;
  created_at: Date;
  /** Set when a moderator deleted the message. */
  deleted_at: ColumnType<Date | null, never, Date>;
}

export interface BansTable {
  stream_id: string;
  user_id: string;
  banned_by: string;
  created_at: ColumnType<Date, never, never>;
}

/** Chat settings per channel; a channel without a row uses the config defaults. */
export interface ChannelSettingsTable {
  channel_id: string;
  rate_limit_max: number;
  rate_limit_window_ms: number;
  mute_ms: number;
  slow_mode_seconds: number;
  updated_at: ColumnType<Date, never, Date>;
}

export interface ChatDatabase extends ProcessedEventsDatabase {
  items: ItemsTable;
  bans: BansTable;
  channel_settings: ChannelSettingsTable;
}
