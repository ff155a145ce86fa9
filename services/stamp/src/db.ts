import type { OutboxTable } from '@livehouse/kit';
import type { ColumnType, Selectable } from 'kysely';

export interface StampsTable {
  id: string;
  name: string;
  /** Absolute URL, or a path resolved against the configured image base URL. */
  image_url: string;
  category: string;
  price: number;
  /** null: a global stamp; otherwise usable only on this channel's streams. */
  channel_id: string | null;
  sort_order: number;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, never, Date>;
}

export interface SentStampsTable {
  /** Derived from (sender_id, idempotency_key): a retried send maps to the same row. */
  id: string;
  sender_id: string;
  idempotency_key: string;
  stream_id: string;
  stamp_id: string;
  receiver_id: string;
  price: number;
  transfer_id: string | null;
  balance_after: number | null;
  created_at: ColumnType<Date, never, never>;
}

export interface SupportersTable {
  stream_id: string;
  user_id: string;
  points: number;
  stamps: number;
  last_sent_at: Date;
}

export interface StampDatabase {
  stamps: StampsTable;
  sent_stamps: SentStampsTable;
  supporters: SupportersTable;
  outbox: OutboxTable;
}

export type StampRow = Selectable<StampsTable>;
export type SentStampRow = Selectable<SentStampsTable>;
