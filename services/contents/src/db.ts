import type { OutboxTable } from '@livehouse/kit';
import type { ColumnType, Generated, Selectable } from 'kysely';

export interface CategoriesTable {
  id: Generated<string>;
  slug: string;
  name: string;
  created_at: ColumnType<Date, never, never>;
}

export interface ChannelsTable {
  id: Generated<string>;
  owner_id: string;
  title: string;
  description: Generated<string>;
  category_id: string | null;
  image_url: string | null;
  featured: Generated<boolean>;
  /** sha256 (hex) of the stream key; the key itself is never stored. */
  stream_key_hash: string;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, never, Date>;
}

export type StreamStateColumn = 'scheduled' | 'live' | 'ended';

export interface StreamsTable {
  id: Generated<string>;
  channel_id: string;
  title: string;
  category_id: string | null;
  state: Generated<StreamStateColumn>;
  scheduled_at: Date | null;
  started_at: Date | null;
  ended_at: Date | null;
  duration_seconds: number | null;
  viewer_count: Generated<number>;
  peak_viewer_count: Generated<number>;
  archive_seconds: Generated<number | null>;
  archive_registered_at: Generated<Date | null>;
  created_at: ColumnType<Date, never, never>;
}

export interface ContentsDatabase {
  categories: CategoriesTable;
  channels: ChannelsTable;
  streams: StreamsTable;
  outbox: OutboxTable;
}

export type CategoryRow = Selectable<CategoriesTable>;
