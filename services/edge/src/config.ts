import { type Static, Type } from 'typebox';

const MiB = 1024 * 1024;

/** The `edge:` section. The origin is `services.ingest` (any ingest instance serves any stream). */
export const edgeConfig = {
  edge: Type.Object(
    {
      /** Bytes of segments and playlists held in memory (LRU). */
      cacheBytes: Type.Integer({ minimum: MiB, default: 512 * MiB }),
      /** A live media playlist is reused this long (a blocking reload refreshes it sooner). */
      playlistTtlMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 500 }),
      /** A final VOD playlist is reused this long. */
      staticPlaylistTtlMs: Type.Integer({ minimum: 0, default: 60_000 }),
      /** A master playlist is reused this long (it changes when ingest drops a ladder that fell behind). */
      masterTtlMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 2_000 }),
      /** A missing file (a segment not there yet) is answered from memory this long. */
      notFoundTtlMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 250 }),
      /** Upper bound on a held `_HLS_msn` request, then the current playlist is answered at once. */
      blockingReloadMs: Type.Integer({ minimum: 100, maximum: 30_000, default: 6_000 }),
      originTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
      originConnections: Type.Integer({ minimum: 1, maximum: 1024, default: 64 }),
      /** The URL players reach this edge at (behind the CDN), e.g. https://media.example.com; empty: the Host header. */
      publicBaseUrl: Type.String({ pattern: '^(https?://[^\\s/]+(/[^\\s]*[^/\\s])?)?$', default: '' }),
      /** Origins allowed to read the media from a browser player: `*`, or a list. */
      corsOrigins: Type.Array(Type.String({ minLength: 1 }), { default: ['*'] }),
    },
    { default: {}, additionalProperties: false },
  ),
};

export type EdgeConfig = Static<(typeof edgeConfig)['edge']>;
