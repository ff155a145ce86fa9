import type { Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDatabase } from '../../src/db/database.ts';
import { InProcessEventBus } from '../../src/events/memory-bus.ts';
import { OutboxRelay } from '../../src/events/relay.ts';
import { createMetrics } from '../../src/metrics.ts';
import { ensureOutboxNotify, type OutboxDatabase, writeEvent } from '../../src/outbox.ts';
import { dbKinds, openTestBackend, type TestBackend } from '../../src/testing.ts';
import { createSchemas, openSchemas, produce, waitFor } from './fixture.ts';

describe.each(dbKinds)('outbox relays woken by notification on %s', (kind) => {
  let tb: TestBackend;
  let schemas: ReturnType<typeof openSchemas>;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    tb = await openTestBackend(kind);
    schemas = openSchemas(tb.backend, `${tb.schemaPrefix || 'ntf_'}n`);
  });
  beforeEach(async () => {
    await createSchemas(schemas);
    await ensureOutboxNotify(schemas.producer.db as Kysely<unknown>, schemas.producer.schema);
  });
  afterEach(async () => {
    while (stops.length > 0) await stops.pop()?.();
  });
  afterAll(() => tb?.close());

  const startRelay = async (bus: InProcessEventBus, db: Kysely<OutboxDatabase>, notified: boolean) => {
    const relay = new OutboxRelay({
      service: 'producer',
      db,
      schema: schemas.producer.schema,
      bus,
      // A minute between polls: only a notification can deliver within the test's time.
      ...(notified ? { notifier: tb.backend.notifier, safetyPollMs: 60_000 } : { pollMs: 20 }),
    }).start();
    stops.push(() => relay.stop());
    expect(await relay.listening()).toBe(notified);
    return relay;
  };

  it('when an event commits, then a relay that would not poll for a minute publishes it at once', async () => {
    const bus = new InProcessEventBus();
    const seen: string[] = [];
    const sub = await bus.subscribe({ group: 'g', handle: async (e) => void seen.push(e.key) });
    stops.push(() => sub.stop());
    await startRelay(bus, schemas.producer.db, true);

    await produce(schemas.producer.db, 'first', 1);
    await waitFor(async () => seen.length === 1, 10_000, 'the first event');
    await produce(schemas.producer.db, 'second', 2);
    await produce(schemas.producer.db, 'third', 3);
    await waitFor(async () => seen.length === 3, 10_000, 'three events');
    expect(seen).toEqual(['first', 'second', 'third']);
  });

  it('when a transaction writing an event rolls back, then nothing is published', async () => {
    const bus = new InProcessEventBus();
    const seen: string[] = [];
    const sub = await bus.subscribe({ group: 'g', handle: async (e) => void seen.push(e.key) });
    stops.push(() => sub.stop());
    await startRelay(bus, schemas.producer.db, true);

    await schemas.producer.db
      .transaction()
      .execute(async (trx) => {
        await writeEvent(trx, 'user.followed', 'rolled-back', { followerId: 'a', followeeId: 'b' });
        throw new Error('abort');
      })
      .catch(() => {});
    // The committed event after it is the gate: once it is out, the rolled-back one would have been too.
    await produce(schemas.producer.db, 'committed', 1);
    await waitFor(async () => seen.length >= 1, 10_000, 'the committed event');
    expect(seen).toEqual(['committed']);
  });

  it('when the outbox stays empty, then a notified relay issues next to no statements and a polling one many', async () => {
    const counted = (service: string) => {
      const metrics = createMetrics(service);
      const db = createDatabase<OutboxDatabase>(tb.backend, { service, schema: schemas.producer.schema, metrics }).db;
      const statements = async () => (await metrics.dbQueries.get()).values.reduce((n, v) => n + v.value, 0);
      return { db, statements };
    };
    const notified = counted('notified');
    const polling = counted('polling');
    await startRelay(new InProcessEventBus(), notified.db, true);
    await startRelay(new InProcessEventBus(), polling.db, false);
    // Each relay's start-up pass looks at the outbox and prunes: two statements, before the window opens.
    await waitFor(async () => (await notified.statements()) >= 2, 10_000, 'the start-up pass');
    const before = { notified: await notified.statements(), polling: await polling.statements() };
    // The window lasts as long as the polling relay needs for five polls (a clock would say less on a loaded
    // machine), well short of the notified relay's 60-s safety poll: meanwhile the notified one issues nothing.
    await waitFor(async () => (await polling.statements()) - before.polling >= 5, 20_000, 'five polls');
    expect(await notified.statements()).toBe(before.notified);
  });
});
