import { type Static, type TSchema, Type } from 'typebox';

/**
 * Every event a service publishes, by type: the schema of its `data`.
 * Producers write them to their outbox in the transaction of the change; consumers must be idempotent
 * (delivery is at least once). Add a type here before writing it.
 */
export const eventSchemas = {
  'user.followed': Type.Object({ followerId: Type.String(), followeeId: Type.String() }),
  'user.unfollowed': Type.Object({ followerId: Type.String(), followeeId: Type.String() }),
  'channel.created': Type.Object({
    channelId: Type.String(),
    ownerId: Type.String(),
    title: Type.String(),
    categoryId: Type.Union([Type.String(), Type.Null()]),
  }),
  'stream.started': Type.Object({
    streamId: Type.String(),
    channelId: Type.String(),
    ownerId: Type.String(),
    title: Type.String(),
    categoryId: Type.Union([Type.String(), Type.Null()]),
    startedAt: Type.String(),
  }),
  'stream.ended': Type.Object({
    streamId: Type.String(),
    channelId: Type.String(),
    ownerId: Type.String(),
    startedAt: Type.String(),
    endedAt: Type.String(),
    durationSeconds: Type.Integer(),
    peakViewerCount: Type.Integer(),
  }),
  'stamp.sent': Type.Object({
    sentStampId: Type.String(),
    streamId: Type.String(),
    stampId: Type.String(),
    senderId: Type.String(),
    receiverId: Type.String(),
    price: Type.Integer(),
    transferId: Type.Union([Type.String(), Type.Null()]),
    sentAt: Type.String(),
  }),
} satisfies Record<string, TSchema>;

export type EventType = keyof typeof eventSchemas;
export type EventData<T extends EventType> = Static<(typeof eventSchemas)[T]>;

/** What the bus carries. */
export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  /** The producing service. */
  source: string;
  /** Ordering key: events with one key are delivered in order. */
  key: string;
  occurredAt: string;
  data: EventData<T>;
}
