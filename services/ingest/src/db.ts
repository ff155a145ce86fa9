import type { ColumnType } from 'kysely';

export type LiveState = 'publishing' | 'reconnecting' | 'ended';

export interface LivesTable {
  stream_id: string;
  channel_id: string;
  instance: string;
  state: LiveState;
  transcoded: boolean;
  epoch: ColumnType<number, number | undefined, number>;
  started_at: Date;
  heartbeat_at: Date;
  ended_at: Date | null;
  archive_seconds: number | null;
}

export interface ArchiveSegmentsTable {
  stream_id: string;
  seq: number;
  duration: number;
  discontinuity: boolean;
  bytes: number;
  source: string;
}

export interface IngestDatabase {
  lives: LivesTable;
  archive_segments: ArchiveSegmentsTable;
}
