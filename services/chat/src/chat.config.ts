import { type Static, Type } from 'typebox';

/** chat's own section of its config file (`chat:`); every key has a default. */
export const ChatConfig = Type.Object(
  {
    /** Defaults of each channel's settings (a channel owner may change them: PUT /channels/:id/chat-settings). */
    defaults: Type.Object(
      {
        rateLimitMax: Type.Integer({ minimum: 1, default: 3 }),
        rateLimitWindowMs: Type.Integer({ minimum: 100, default: 2000 }),
        muteMs: Type.Integer({ minimum: 0, default: 10_000 }),
        slowModeSeconds: Type.Integer({ minimum: 0, default: 0 }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Characters (code points) in one message. */
    maxMessageLength: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
    /** Items sent on join. */
    historySize: Type.Integer({ minimum: 0, maximum: 500, default: 50 }),
    /** Items each room keeps in Redis (or memory) for history and resume; older ones only in PostgreSQL. */
    retainedPerRoom: Type.Integer({ minimum: 100, default: 1000 }),
    /** Seconds a quiet room's Redis keys live. */
    roomTtlSeconds: Type.Integer({ minimum: 60, default: 2 * 86400 }),
    /** Largest frame a client may send; larger ones close the socket with 1009. */
    maxFrameBytes: Type.Integer({ minimum: 256, maximum: 1_048_576, default: 4096 }),
    /** Frames a client may send per second (burst: twice that) before it is closed with 1008. */
    maxFramesPerSecond: Type.Integer({ minimum: 1, default: 10 }),
    /** Invalid frames (binary, bad JSON, unknown type) tolerated per minute before a close with 1008. */
    maxInvalidFramesPerMinute: Type.Integer({ minimum: 1, default: 20 }),
    /** Ping every client this often; one that has not answered the previous ping is dropped. */
    heartbeatIntervalMs: Type.Integer({ minimum: 100, default: 30_000 }),
    /** Bytes the server holds for one client (socket buffer + queued frames); beyond: close 4008. */
    sendBufferBytes: Type.Integer({ minimum: 1024, default: 262_144 }),
    /** Open sockets one user may hold, over every instance and room (tabs, devices); beyond: 429. */
    maxSocketsPerUser: Type.Integer({ minimum: 1, default: 10 }),
    /** Open sockets one client address may hold (signed in or not; a NAT shares one); beyond: 429. */
    maxSocketsPerAddress: Type.Integer({ minimum: 1, default: 50 }),
    /** Above this many buffered bytes a client stops getting the shared frames and is caught up in one frame later. */
    sendHighWaterBytes: Type.Integer({ minimum: 1024, default: 65_536 }),
    /** Items arriving within this window go out as one frame (0: those of one event-loop turn). */
    flushIntervalMs: Type.Integer({ minimum: 0, maximum: 1000, default: 0 }),
    /** A room with no client left is unsubscribed after this long. */
    roomIdleMs: Type.Integer({ minimum: 1000, default: 30_000 }),
    /** Viewer counts are sent to contents this often (only when changed). */
    viewerReportIntervalMs: Type.Integer({ minimum: 100, default: 5000 }),
    /** How long a stream's owner and state are cached. */
    streamCacheMs: Type.Integer({ minimum: 0, default: 30_000 }),
    /** Messages are written to PostgreSQL in batches at most this old. */
    persistIntervalMs: Type.Integer({ minimum: 10, default: 250 }),
    /** Prefix of every Redis key and channel (one Redis may serve several deployments). */
    redisPrefix: Type.String({ pattern: '^[A-Za-z0-9:_-]*$', default: 'livehouse:chat:' }),
  },
  { default: {}, additionalProperties: false },
);
export type ChatConfig = Static<typeof ChatConfig>;
