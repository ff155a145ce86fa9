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
  'points.purchased': Type.Object({
    transferId: Type.String(),
    userId: Type.String(),
    paymentId: Type.String(),
    amount: Type.Integer(),
  }),
  'points.spent': Type.Object({
    transferId: Type.String(),
    fromUserId: Type.String(),
    toUserId: Type.String(),
    amount: Type.Integer(),
    fee: Type.Integer(),
    reason: Type.String(),
    reference: Type.Union([Type.String(), Type.Null()]),
  }),
  'points.refunded': Type.Object({
    transferId: Type.String(),
    refundOf: Type.String(),
    refundedKind: Type.Union([Type.Literal('purchase'), Type.Literal('spend')]),
    /** The user whose points were taken back (the payee of a spend, the buyer of a purchase). */
    fromUserId: Type.String(),
    /** The payer who got the points back; null for a purchase (they return to the provider). */
    toUserId: Type.Union([Type.String(), Type.Null()]),
    amount: Type.Integer(),
    fee: Type.Integer(),
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
