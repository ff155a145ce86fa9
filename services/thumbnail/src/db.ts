import type { ColumnType, Selectable } from 'kysely';

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
  source: 'upload' | 'channel_image_url' | 'card';
  generated_at: ColumnType<Date, Date, never>;
}

export interface ThumbnailDatabase {
  channel_images: ChannelImagesTable;
  thumbnails: ThumbnailsTable;
}

export type ThumbnailRow = Selectable<ThumbnailsTable>;
export type ChannelImageRow = Selectable<ChannelImagesTable>;
