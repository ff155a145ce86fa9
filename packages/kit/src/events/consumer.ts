import { type EventEnvelope, type EventType, eventSchemas } from '@livehouse/contracts';
import { type ColumnType, type Kysely, sql, type Transaction } from 'kysely';
import { Value } from 'typebox/value';
import { type EventHandler, type EventLog, silentLog } from './bus.ts';

/** The table every consuming service has in its own schema: one row per event it applied. */
export interface ProcessedEventsTable {
  event_id: string;
  type: string;
  source: string;
  processed_at: ColumnType<Date, never, never>;
}

export interface ProcessedEventsDatabase {
  processed_events: ProcessedEventsTable;
}

/** Use in a consuming service's migration. */
export async function createProcessedEventsTable(db: Kysely<unknown>) {
  await db.schema
    .createTable('processed_events')
    .addColumn('event_id', 'uuid', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('processed_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

/** Applies one event inside the transaction that also records it as processed. */
export type ConsumeHandler<T extends EventType, DB, C> = (
  trx: Transaction<DB>,
  event: EventEnvelope<T>,
  ctx: C,
) => Promise<void>;

/** What a service consumes: a handler per event type. */
export type ConsumeHandlers<DB, C> = { [T in EventType]?: ConsumeHandler<T, DB, C> };

/**
 * Makes a bus handler that applies each event at most once: the handler's writes and the
 * `processed_events` row commit in ONE transaction, and an event already recorded is skipped.
 * With an at-least-once bus, that is exactly once in effect. Events of other types are ignored;
 * events whose data does not match their schema are logged and skipped (retrying cannot fix them).
 */
export function idempotentConsumer<DB, C>(
  db: Kysely<DB>,
  handlers: ConsumeHandlers<DB, C>,
  ctx: C,
  options: { log?: EventLog; onApplied?: (event: EventEnvelope, applied: boolean) => void } = {},
): EventHandler {
  const log = options.log ?? silentLog;
  return async (event) => {
    const handler = handlers[event.type] as ConsumeHandler<EventType, DB, C> | undefined;
    if (!handler) return;
    const schema = eventSchemas[event.type];
    if (!schema || !Value.Check(schema, event.data)) {
      log.error(
        { eventId: event.id, type: event.type, source: event.source },
        'event data does not match its schema: skipped',
      );
      return;
    }
    const applied = await (db as unknown as Kysely<ProcessedEventsDatabase>).transaction().execute(async (trx) => {
      // First, so that a concurrent duplicate waits on this row and then finds it.
      const fresh = await trx
        .insertInto('processed_events')
        .values({ event_id: event.id, type: event.type, source: event.source })
        .onConflict((oc) => oc.column('event_id').doNothing())
        .returning('event_id')
        .executeTakeFirst();
      if (!fresh) return false;
      await handler(trx as unknown as Transaction<DB>, event, ctx);
      return true;
    });
    options.onApplied?.(event, applied);
  };
}
