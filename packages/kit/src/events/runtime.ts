import type { EventType } from '@livehouse/contracts';
import { type Kysely, sql } from 'kysely';
import { Counter } from 'prom-client';
import type { Database } from '../db/database.ts';
import type { Notifier } from '../db/notify.ts';
import type { Metrics } from '../metrics.ts';
import type { EventBus, EventLog, Subscription } from './bus.ts';
import { type ConsumeHandlers, idempotentConsumer } from './consumer.ts';
import { OutboxRelay } from './relay.ts';

/** Whether the service's schema has an outbox table (created by `createOutboxTable` in a migration). */
export async function hasOutbox(database: Database<unknown>) {
  const { rows } = await sql<{ present: boolean }>`
    select to_regclass(format('%I.outbox', ${database.schema}::text)) is not null as present`.execute(database.db);
  return rows[0]?.present === true;
}

export interface ServiceEventsOptions<DB, C> {
  service: string;
  /** Declared types; an empty list when only an outbox table was found. Undefined: no relay. */
  produces: readonly EventType[] | undefined;
  consumes: ConsumeHandlers<DB, C> | undefined;
  db: Kysely<DB> | undefined;
  schema: string | undefined;
  bus: EventBus;
  ctx: C;
  log: EventLog;
  metrics: Metrics;
  relay?: { pollMs?: number };
  /** Wakes the relay on commit of new outbox rows instead of a fast poll. */
  notifier?: Notifier | undefined;
}

/**
 * A service's share of the event pipeline, run as its background work: the relay of its outbox
 * (when it produces events) and its consumer group (when it consumes). Stopping lets the batch and
 * the event in hand finish.
 */
export async function startServiceEvents<DB, C>(o: ServiceEventsOptions<DB, C>) {
  let relay: OutboxRelay | undefined;
  if (o.produces) {
    if (!o.db || !o.schema) throw new Error(`${o.service} produces events: it needs migrations with an outbox table`);
    const published = new Counter({
      name: 'events_published_total',
      help: 'Outbox events published to the bus',
      registers: [o.metrics.registry],
    });
    relay = new OutboxRelay({
      service: o.service,
      db: o.db,
      schema: o.schema,
      bus: o.bus,
      log: o.log,
      ...o.relay,
      ...(o.notifier && { notifier: o.notifier }),
      afterPublish: (events) => published.inc(events.length),
    }).start();
  }

  let subscription: Subscription | undefined;
  if (o.consumes && Object.keys(o.consumes).length > 0) {
    if (!o.db) throw new Error(`${o.service} consumes events: it needs migrations with a processed_events table`);
    const consumed = new Counter({
      name: 'events_consumed_total',
      help: 'Events consumed, by type and outcome (applied, duplicate)',
      labelNames: ['type', 'outcome'],
      registers: [o.metrics.registry],
    });
    subscription = await o.bus.subscribe({
      group: o.service,
      log: o.log,
      handle: idempotentConsumer(o.db, o.consumes, o.ctx, {
        log: o.log,
        onApplied: (event, applied) => consumed.inc({ type: event.type, outcome: applied ? 'applied' : 'duplicate' }),
      }),
    });
  }

  return {
    relay,
    async stop() {
      // Producer side first: nothing new is published while the consumer finishes.
      await relay?.stop();
      await subscription?.stop();
    },
  };
}
