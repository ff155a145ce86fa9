import type { EventType } from '@livehouse/contracts';
import { type Kysely, sql } from 'kysely';
import { Counter, Gauge } from 'prom-client';
import type { Database } from '../db/database.ts';
import type { Notifier } from '../db/notify.ts';
import type { Metrics } from '../metrics.ts';
import type { OutboxDatabase } from '../outbox.ts';
import type { EventBus, EventLog, Subscription } from './bus.ts';
import { type ConsumeHandlers, idempotentConsumer } from './consumer.ts';
import { OutboxRelay } from './relay.ts';

/** Whether the service's schema has an outbox table (created by `createOutboxTable` in a migration). */
export async function hasOutbox(database: Database<unknown>) {
  const { rows } = await sql<{ present: boolean }>`
    select to_regclass(format('%I.outbox', ${database.schema}::text)) is not null as present`.execute(database.db);
  return rows[0]?.present === true;
}

/** A scrape must answer even when the database does not: the gauge then keeps its last value. */
const LAG_QUERY_TIMEOUT_MS = 3000;

/**
 * Outbox lag: the age of the oldest row not yet on the bus, 0 when every row is (what waits, where
 * `events_published_total` counts only what went). Read at scrape time, on the relay's partial index.
 */
function outboxLagGauge(db: Kysely<OutboxDatabase>, metrics: Metrics) {
  new Gauge({
    name: 'livehouse_outbox_lag_seconds',
    help: 'Age of the oldest outbox row not yet published to the bus (0 when none waits)',
    registers: [metrics.registry],
    // Workers of one pod share the outbox: the pod's lag is the largest any of them saw.
    aggregator: 'max',
    async collect() {
      let timer: NodeJS.Timeout | undefined;
      const query = db
        .selectFrom('outbox')
        .select(sql<number>`extract(epoch from now() - occurred_at)::float8`.as('age'))
        .where('published_at', 'is', null)
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), LAG_QUERY_TIMEOUT_MS);
      });
      try {
        const head = await Promise.race([query.then((row) => ({ row })), timeout]);
        if (head) this.set(Math.max(0, head.row?.age ?? 0));
      } catch {
        // Unknown while the database is away (livehouse_database_up says so): keep the last value.
      } finally {
        clearTimeout(timer);
        query.catch(() => {});
      }
    },
  });
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
    outboxLagGauge(o.db as unknown as Kysely<OutboxDatabase>, o.metrics);
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
