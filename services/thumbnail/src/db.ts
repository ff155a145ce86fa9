import type { ProcessedEventsDatabase } from '@livehouse/kit';
import type { ColumnType, Generated, Selectable } from 'kysely';

/** The channel's uploaded image, re-encoded; the bytes live in object storage under `storage_key`. */
export interface ChannelImagesTable {
  channel_id: string;
  storage_key: string;
  width: number;
  height: number;
  bytes: number;
  uploaded_by: string;
  updated_at: ColumnType<Date, Date, Date>;
}

/** One row per stream, size and format: the current file, content-addressed by its etag. */
export interface ThumbnailsTable {
  stream_id: string;
  size: string;
  format: 'webp' | 'jpeg';
  width: number;
  height: number;
  bytes: number;
  /** base64url of the first 16 bytes of the SHA-256 of the file: the ETag and the `v` of its URL. */
  etag: string;
  storage_key: string;
  source: 'upload' | 'channel_image_url' | 'card' | 'live_frame';
  generated_at: ColumnType<Date, Date, never>;
}

/** A `stream.started` waiting for its thumbnails; at most one per stream (a newer event replaces it). */
export interface JobsTable {
  stream_id: string;
  channel_id: string;
  title: string;
  event_id: string;
  attempts: Generated<number>;
  run_after: ColumnType<Date, Date | undefined, Date>;
  /** While a worker holds the job; a crashed worker's job is taken again after this. */
  locked_until: Date | null;
  last_error: string | null;
}

export interface ThumbnailDatabase extends ProcessedEventsDatabase {
  channel_images: ChannelImagesTable;
  thumbnails: ThumbnailsTable;
  jobs: JobsTable;
}

export type ThumbnailRow = Selectable<ThumbnailsTable>;
export type ChannelImageRow = Selectable<ChannelImagesTable>;
export type JobRow = Selectable<JobsTable>;
