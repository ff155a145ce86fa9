import { type Static, Type } from 'typebox';
import { Text } from './common.ts';
import { route } from './routes.ts';

// The media plane's API: the HLS paths the edge serves to players and pulls from ingest's origin
// (under `/media`), and what the BFF puts in stream and channel views.

export const StreamId = Type.String({ format: 'uuid' });
export const Rendition = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,15}$' });
export const SegmentFile = Type.String({ pattern: '^[0-9]{6,9}\\.ts$' });

export const StreamParams = Type.Object({ streamId: StreamId });
export const MediaParams = Type.Object({ streamId: StreamId, rendition: Rendition });
export const SegmentParams = Type.Object({ streamId: StreamId, rendition: Rendition, file: SegmentFile });

/** LL-HLS delivery directives; `_HLS_part` is accepted and ignored (whole 1 s segments, no parts). */
export const BlockingQuery = Type.Object({
  _HLS_msn: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_000_000_000 })),
  _HLS_part: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
  _HLS_skip: Type.Optional(Text({ maxLength: 8 })),
});

/** `GET /streams/:id/status` (edge, from the origin): what a player can watch now. */
export const MediaStatus = Type.Object({
  streamId: StreamId,
  /** A live master playlist exists and the stream has not ended. */
  live: Type.Boolean(),
  /** A publisher is connected right now (not in the grace window). */
  publishing: Type.Boolean(),
  archive: Type.Boolean(),
  /** The archive is a finished VOD (ENDLIST). */
  archiveFinal: Type.Boolean(),
});
export type OriginStatus = Static<typeof MediaStatus>;

/** The edge's answer: the origin's, plus the URLs a player opens (absolute, on the edge's public base). */
export const PlaybackStatus = Type.Object({
  ...MediaStatus.properties,
  baseUrl: Type.String(),
  /** The live master playlist while the stream is live. */
  liveUrl: Type.Union([Type.String(), Type.Null()]),
  /** The archive: a growing EVENT playlist while live, the finished VOD once it ended. */
  vodUrl: Type.Union([Type.String(), Type.Null()]),
});
export type PlaybackStatus = Static<typeof PlaybackStatus>;

/** Paths of a stream's playlists, relative to the edge's public base URL. */
export const mediaPaths = {
  master: (streamId: string) => `/streams/${streamId}/master.m3u8`,
  archive: (streamId: string) => `/streams/${streamId}/archive.m3u8`,
};

/** The newest media sequence number a media playlist lists (what `_HLS_msn` waits for), or -1. */
export function lastSequence(text: string) {
  let seq = -1;
  let count = -1;
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) seq = Number.parseInt(line.slice(22), 10);
    else if (line.startsWith('#EXTINF:')) count++;
  }
  return seq < 0 || count < 0 || !Number.isSafeInteger(seq) ? -1 : seq + count;
}

/** The edge's internal API (the BFF asks it where a stream plays). */
export const routes = {
  status: route({ method: 'GET', path: '/streams/:streamId/status', params: StreamParams, response: PlaybackStatus }),
};
