import { type Static, type TSchema, Type } from 'typebox';

/**
 * Every event a service publishes, by type: the schema of its `data`.
 * Producers write them to their outbox in the transaction of the change; consumers must be idempotent
 * (delivery is at least once). Add a type here before writing it.
 */
export const eventSchemas = {
  'user.followed': Type.Object({ followerId: Type.String(), followeeId: Type.String() }),
  'user.unfollowed': Type.Object({ followerId: Type.String(), followeeId: Type.String() }),
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
