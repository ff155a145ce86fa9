import { objectStorageConfig } from '@livehouse/kit/storage';
import { type Static, Type } from 'typebox';

const Rendition = Type.Object(
  {
    /** Folder and playlist name, e.g. `480p`; `source` is reserved for the copied source. */
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,15}$' }),
    /** `copy`: the publisher's own video and audio, untouched (the top rendition, and the archive). */
    copy: Type.Boolean({ default: false }),
    height: Type.Optional(Type.Integer({ minimum: 90, maximum: 2160, multipleOf: 2 })),
    videoKbps: Type.Optional(Type.Integer({ minimum: 100, maximum: 20_000 })),
    audioKbps: Type.Integer({ minimum: 32, maximum: 320, default: 128 }),
  },
  { additionalProperties: false },
);

/** The `ingest:` section of the service's config. */
export const ingestConfig = {
  ingest: Type.Object(
    {
      rtmp: Type.Object(
        {
          host: Type.String({ default: '127.0.0.1' }),
          /** 1935 in `livehouse up`; 0 picks a free port (tests). */
          port: Type.Integer({ minimum: 0, maximum: 65535, default: 1935 }),
          /** RTMP application name in the URL: rtmp://host/<app>/<stream key>. */
          app: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', default: 'live' }),
          /** A connection must have published (key checked) within this time, else it is closed. */
          publishTimeoutMs: Type.Integer({ minimum: 500, default: 10_000 }),
          /** Larger SetChunkSize requests are refused (OBS and ffmpeg use 4096). */
          maxChunkSize: Type.Integer({ minimum: 128, maximum: 16_777_215, default: 65_536 }),
          /** Larger RTMP messages are refused: one video frame never needs more. */
          maxMessageBytes: Type.Integer({ minimum: 65_536, maximum: 16_777_215, default: 8 * 1024 * 1024 }),
          maxPublishers: Type.Integer({ minimum: 1, default: 200 }),
        },
        { default: {}, additionalProperties: false },
      ),
      /** A dropped publisher keeps its stream live this long; a republish with the same key resumes it. */
      graceMs: Type.Integer({ minimum: 0, default: 30_000 }),
      /** Streams this instance transcodes into the ladder at once; others are passthrough (copy only). */
      transcodeSlots: Type.Integer({ minimum: 0, maximum: 64, default: 1 }),
      /**
       * A ladder that encodes slower than its input arrives (an overloaded machine) would fall further
       * behind live every second: below `minSpeed` (media seconds out per media second in, over
       * `windowSeconds` of input) the stream drops to passthrough and frees its slot. 0: never.
       */
      ladderFallback: Type.Object(
        {
          minSpeed: Type.Number({ minimum: 0, maximum: 10, default: 0.95 }),
          windowSeconds: Type.Integer({ minimum: 1, maximum: 300, default: 10 }),
        },
        { default: {}, additionalProperties: false },
      ),
      ladder: Type.Array(Rendition, {
        minItems: 1,
        maxItems: 6,
        default: [
          { name: 'source', copy: true, audioKbps: 128 },
          { name: '480p', height: 480, videoKbps: 1400, audioKbps: 128 },
          { name: '360p', height: 360, videoKbps: 800, audioKbps: 96 },
        ],
      }),
      segmentSeconds: Type.Integer({ minimum: 1, maximum: 10, default: 1 }),
      /** Segments in a live media playlist. */
      liveWindow: Type.Integer({ minimum: 3, maximum: 60, default: 6 }),
      /** libx264 preset of the ladder (tests: ultrafast). */
      preset: Type.Union(
        ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'].map((p) => Type.Literal(p)),
        { default: 'veryfast' },
      ),
      ffmpeg: Type.String({ minLength: 1, default: 'ffmpeg' }),
      ffprobe: Type.String({ minLength: 1, default: 'ffprobe' }),
      /** Where ffmpeg writes before segments are copied to storage (one folder per stream id). */
      workDir: Type.String({ minLength: 1, default: '.livehouse/ingest-work' }),
      storage: objectStorageConfig('.livehouse/media'),
      /** A live stream's frame goes to the thumbnail service this often; 0: never. */
      thumbnailIntervalMs: Type.Integer({ minimum: 0, default: 20_000 }),
      /** Live streams held by a vanished instance are ended after this long without its heartbeat. */
      heartbeatMs: Type.Integer({ minimum: 200, default: 5_000 }),
      /** The origin holds a blocking playlist request (`_HLS_msn`) at most this long. */
      blockingReloadMs: Type.Integer({ minimum: 100, maximum: 30_000, default: 6_000 }),
      /** On SIGTERM: refuse new publishes and wait this long for streams to end (within the spot notice). */
      drainMs: Type.Integer({ minimum: 0, default: 90_000 }),
      /** Names this instance in the stream table; default: the host name (the pod name). */
      instanceId: Type.String({ maxLength: 100, default: '' }),
    },
    { default: {}, additionalProperties: false },
  ),
};

export type IngestConfig = Static<(typeof ingestConfig)['ingest']>;
export type RenditionConfig = Static<typeof Rendition>;
