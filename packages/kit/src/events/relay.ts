import { createHash } from 'node:crypto';
import type { EventEnvelope, EventType } from '@livehouse/contracts';
import { type Kysely, sql } from 'kysely';
import type { Notifier, Unlisten } from '../db/notify.ts';
import { OUTBOX_CHANNEL, type OutboxDatabase } from '../outbox.ts';
import { BusClosedError, backoffMs, type EventBus, type EventLog, silentLog, Wakeable } from './bus.ts';

export interface OutboxRelayOptions {
  /** The producing service: the events' `source`. */
  service: string;
  /** The service's database, qualified with its schema. */
  // biome-ignore lint/suspicious/noExplicitAny: any service database that has an outbox table
  db: Kysely<any>;
  /** The schema, which names the lock: one relay per schema at a time, across all pods. */
  schema: string;
  bus: EventBus;
  log?: EventLog;
  /** Pause when the outbox is empty and nothing notifies the relay. */
  pollMs?: number;
  /** Wakes the relay when rows enter its outbox (the trigger the migrator installs); then it polls only slowly. */
  notifier?: Notifier;
  /** Pause when the outbox is empty while notifications are listened to: a safety net for a lost one. */
  safetyPollMs?: number;
  batchSize?: number;
  /** Published rows are deleted once this old. */
  retainPublishedMs?: number;
  /** Tests: runs after a batch is on the bus and before it is marked published (throw to simulate a crash). */
  afterPublish?: (events: readonly EventEnvelope[]) => Promise<void> | void;
}

/** A signed 64-bit advisory lock key from the schema name. */
function lockKey(schema: string) {
  return createHash('sha256').update(`livehouse.outbox:${schema}`).digest().readBigInt64BE(0).toString();
}

/**
 * Publishes a service's outbox rows to the bus in `seq` order and marks them published.
 *
 * Each batch runs in one transaction that first takes a transaction-level advisory lock on the schema
 * (`pg_try_advisory_xact_lock`): relays of other pods skip the batch instead of publishing the same
 * rows out of order, and the lock is released exactly when the marks commit, so the next holder sees
 * them. A crash after publishing and before the commit leaves the rows unmarked: they are published
 * again (at least once), never lost, and always after the rows before them.
 */
export class OutboxRelay {
  readonly #o: Required<Omit<OutboxRelayOptions, 'afterPublish' | 'log' | 'notifier'>> &
    Pick<OutboxRelayOptions, 'afterPublish' | 'notifier'>;
  readonly #log: EventLog;
  readonly #db: Kysely<OutboxDatabase>;
  readonly #lockKey: string;
  readonly #wakeable = new Wakeable();
  #running: Promise<void> | undefined;
  #unlisten: Promise<Unlisten | undefined> | undefined;
  #stopped = false;
  #lastPrune = 0;
  /** Events published so far by this relay (tests, metrics). */
  published = 0;

  constructor(options: OutboxRelayOptions) {
    this.#o = { pollMs: 100, safetyPollMs: 5000, batchSize: 100, retainPublishedMs: 86_400_000, ...options };
    this.#log = options.log ?? silentLog;
    this.#db = options.db as Kysely<OutboxDatabase>;
    this.#lockKey = lockKey(options.schema);
  }

  start() {
    const notifier = this.#o.notifier;
    this.#unlisten ??= notifier
      ? notifier
          .listen(OUTBOX_CHANNEL, (schema) => {
            if (schema === this.#o.schema) this.#wakeable.wake();
          })
          .catch((err: unknown) => {
            this.#log.warn({ err }, 'outbox relay: cannot listen for notifications, polling instead');
            return undefined;
          })
      : Promise.resolve(undefined);
    this.#running ??= this.#loop();
    return this;
  }

  /** Whether the relay is woken by notifications (resolves once LISTEN is in place): tests gate on it. */
  async listening(): Promise<boolean> {
    return (await this.#unlisten) !== undefined;
  }

  /** Lets the batch in hand finish (it is marked), then stops. */
  async stop() {
    this.#stopped = true;
    this.#wakeable.wake();
    await this.#running;
    await (await this.#unlisten)?.();
  }

  async #loop() {
    let failures = 0;
    while (!this.#stopped) {
      let count = 0;
      try {
        count = await this.runOnce();
        failures = 0;
        if (Date.now() - this.#lastPrune > 60_000) await this.prune();
      } catch (err) {
        if (err instanceof BusClosedError) this.#log.debug({}, 'outbox relay: the bus is closed');
        else this.#log.warn({ err }, 'outbox relay failed: retrying');
        await this.#wakeable.sleep(backoffMs(failures++));
        continue;
      }
      // A full batch means there may be more: go on at once.
      if (count < this.#o.batchSize) {
        const listening = (await this.#unlisten) !== undefined;
        await this.#wakeable.sleep(listening ? this.#o.safetyPollMs : this.#o.pollMs);
      }
    }
  }

  /**
   * Publishes at most one batch. Returns how many events it published: 0 when the outbox is
   * empty or another relay holds the schema's lock.
   */
  async runOnce(): Promise<number> {
    // Outside a transaction and on the partial index: an idle poll costs one cheap statement.
    const head = await this.#db
      .selectFrom('outbox')
      .select('seq')
      .where('published_at', 'is', null)
      .limit(1)
      .executeTakeFirst();
    if (!head) return 0;
    return this.#db.transaction().execute(async (trx) => {
      const lock = await sql<{
        locked: boolean;
      }>`select pg_try_advisory_xact_lock(${this.#lockKey}::bigint) as locked`.execute(trx);
      if (!lock.rows[0]?.locked) return 0;
      const rows = await trx
        .selectFrom('outbox')
        .select(['seq', 'event_id', 'type', 'key', 'data', 'occurred_at'])
        .where('published_at', 'is', null)
        .orderBy('seq')
        .limit(this.#o.batchSize)
        .execute();
      if (rows.length === 0) return 0;
      const events = rows.map(
        (r): EventEnvelope => ({
          id: r.event_id,
          type: r.type as EventType,
          source: this.#o.service,
          key: r.key,
          occurredAt: r.occurred_at.toISOString(),
          data: (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as EventEnvelope['data'],
        }),
      );
      await this.#o.bus.publish(events);
      await this.#o.afterPublish?.(events);
      await trx
        .updateTable('outbox')
        .set({ published_at: new Date() })
        .where(
          'seq',
          'in',
          rows.map((r) => r.seq),
        )
        .execute();
      this.published += rows.length;
      return rows.length;
    });
  }

  /** Deletes published rows older than the retention. */
  async prune() {
    this.#lastPrune = Date.now();
    await this.#db
      .deleteFrom('outbox')
      .where('published_at', '<', new Date(Date.now() - this.#o.retainPublishedMs))
      .execute();
  }
}
