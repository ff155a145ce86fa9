import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { EventEnvelope } from '@livehouse/contracts';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { idempotentConsumer } from '../../src/events/consumer.ts';
import { InProcessEventBus } from '../../src/events/memory-bus.ts';
import { RedisEventBus } from '../../src/events/redis-bus.ts';
import { OutboxRelay } from '../../src/events/relay.ts';
import { dbKinds, openTestBackend, redisUrl, type TestBackend } from '../../src/testing.ts';
import { appliedByKey, createSchemas, handlers, openSchemas, produce, waitFor } from './fixture.ts';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.each(dbKinds)('outbox relay and idempotent consumers on %s', (kind) => {
  let tb: TestBackend;
  let schemas: ReturnType<typeof openSchemas>;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    tb = await openTestBackend(kind);
    schemas = openSchemas(tb.backend, tb.schemaPrefix || 'evt_');
  });
  beforeEach(() => createSchemas(schemas));
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });
  afterAll(() => tb?.close());

  const relay = (
    bus: InProcessEventBus | RedisEventBus,
    extra: Partial<ConstructorParameters<typeof OutboxRelay>[0]>,
  ) =>
    new OutboxRelay({ service: 'producer', db: schemas.producer.db, schema: schemas.producer.schema, bus, ...extra });

  const counts = async () => {
    const processed = await schemas.consumer.db
      .selectFrom('processed_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const unpublished = await schemas.producer.db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('published_at', 'is', null)
      .executeTakeFirstOrThrow();
    return { processed: Number(processed.n), unpublished: Number(unpublished.n) };
  };

  it('when the relay crashes between publishing a batch and marking it, then the batch is published again and each event is applied once, in order per key', async () => {
    const keys = ['a', 'b', 'c', 'd'];
    for (const n of range(10)) for (const key of keys) await produce(schemas.producer.db, key, n);

    const bus = new InProcessEventBus();
    let deliveries = 0;
    const consume = idempotentConsumer(schemas.consumer.db, handlers, undefined);
    const sub = await bus.subscribe({
      group: 'consumer',
      handle: async (event) => {
        deliveries++;
        await consume(event);
      },
    });
    cleanups.push(() => sub.stop());

    let batches = 0;
    const crashing = relay(bus, {
      batchSize: 10,
      afterPublish: () => {
        if (++batches === 2) throw new Error('crash');
      },
    });
    expect(await crashing.runOnce()).toBe(10);
    await expect(crashing.runOnce()).rejects.toThrow('crash');

    const restarted = relay(bus, { batchSize: 10 });
    while ((await restarted.runOnce()) > 0);

    await waitFor(async () => deliveries === 50, 10_000, '50 deliveries');
    await waitFor(async () => (await counts()).processed === 40, 10_000, '40 processed events');
    const { total, byKey } = await appliedByKey(schemas.consumer.db);
    expect(total).toBe(40);
    for (const key of keys) expect(byKey.get(key)).toEqual(range(10));
    expect(await counts()).toEqual({ processed: 40, unpublished: 0 });
  });

  it('when two relays run on one outbox, then the advisory lock lets only one publish at a time and the order holds', async () => {
    for (const n of range(30)) await produce(schemas.producer.db, 'k', n);
    const bus = new InProcessEventBus();
    const seen: number[] = [];
    const sub = await bus.subscribe({
      group: 'g',
      handle: async (event: EventEnvelope) => {
        seen.push(Number((event.data as { followeeId: string }).followeeId));
      },
    });
    cleanups.push(() => sub.stop());
    const a = relay(bus, { batchSize: 4, pollMs: 1 }).start();
    const b = relay(bus, { batchSize: 4, pollMs: 1 }).start();
    cleanups.push(() => Promise.all([a.stop(), b.stop()]));
    await waitFor(async () => seen.length >= 30, 10_000, '30 events');
    // Counted after each batch's mark, a moment after its events reached the consumer.
    await waitFor(async () => a.published + b.published >= 30, 10_000, 'the last mark');
    expect(seen).toEqual(range(30));
    expect(a.published + b.published).toBe(30);
  });

  describe.skipIf(!redisUrl)('on Redis Streams', () => {
    let prefix: string;
    let redis: Redis;
    const buses: RedisEventBus[] = [];
    const newBus = () => {
      const bus = new RedisEventBus({ url: redisUrl as string, prefix, partitions: 4, leaseMs: 1500, blockMs: 200 });
      buses.push(bus);
      return bus;
    };

    beforeEach(() => {
      // A prefix per test run: parallel runs on one Redis never meet.
      prefix = `lhtest:${randomBytes(4).toString('hex')}:`;
      redis = new Redis(redisUrl as string);
    });
    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()?.();
      const bus = buses[0];
      for (const b of buses.splice(0)) await b.close();
      if (bus) {
        const cleaner = new RedisEventBus({ url: redisUrl as string, prefix });
        await cleaner.destroy();
        await cleaner.close();
      }
      redis.disconnect();
    });

    /** Every entry on the streams: event ids, duplicates included. */
    const streamed = async () => {
      const ids: string[] = [];
      for (const p of range(4)) {
        const entries = await redis.xrange(`${prefix}p${p}`, '-', '+');
        for (const [, fields] of entries)
          ids.push((JSON.parse(fields[fields.indexOf('e') + 1] as string) as EventEnvelope).id);
      }
      return ids;
    };

    it('when relays keep crashing after publishing while events are written and two consumer pods share a group, then every event is delivered at least once and applied once, in order per key', async () => {
      const keys = range(8).map((i) => `key${i}`);
      const perKey = 25;
      const consumers = await Promise.all(
        ['podA', 'podB'].map(async (pod) =>
          newBus().subscribe({
            group: 'consumer',
            consumer: pod,
            handle: idempotentConsumer(schemas.consumer.db, handlers, undefined),
          }),
        ),
      );
      cleanups.push(() => Promise.all(consumers.map((c) => c.stop())));

      // Two relays (two pods) on one outbox; each "crashes" after publishing every third batch.
      const relays = range(2).map(() => {
        let batches = 0;
        return relay(newBus(), {
          batchSize: 5,
          pollMs: 2,
          afterPublish: () => {
            if (++batches % 3 === 0) throw new Error('crash between publish and mark');
          },
        }).start();
      });
      cleanups.push(() => Promise.all(relays.map((r) => r.stop())));

      for (const n of range(perKey)) for (const key of keys) await produce(schemas.producer.db, key, n);

      const total = keys.length * perKey;
      await waitFor(
        async () => {
          const c = await counts();
          return c.processed === total && c.unpublished === 0; // the last batch's mark comes after its delivery
        },
        20_000,
        `${total} processed events`,
      );
      const applied = await appliedByKey(schemas.consumer.db);
      expect(applied.total).toBe(total);
      for (const key of keys) expect(applied.byKey.get(key)).toEqual(range(perKey));
      expect(await counts()).toEqual({ processed: total, unpublished: 0 });
      const ids = await streamed();
      expect(new Set(ids).size).toBe(total);
      expect(ids.length).toBeGreaterThan(total); // the crashed batches went out twice
    }, 60_000);

    it.skipIf(kind !== 'postgres')(
      'when the relay process and a consumer process are killed (SIGKILL) mid-stream and restarted, then nothing is lost, nothing is applied twice, and each key stays in order',
      async () => {
        const worker = fileURLToPath(new URL('./worker.ts', import.meta.url));
        const postgresUrl = process.env.LIVEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
        const children = new Set<ChildProcess>();
        const startWorker = async (role: 'relay' | 'consumer') => {
          const child = spawn(
            process.execPath,
            [worker, role, postgresUrl, tb.schemaPrefix || 'evt_', redisUrl as string, prefix],
            { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
          );
          children.add(child);
          child.on('exit', () => children.delete(child));
          await new Promise<void>((resolve, reject) => {
            child.once('message', () => resolve());
            child.once('exit', (code) => reject(new Error(`${role} worker exited with ${code}`)));
          });
          return child;
        };
        const kill = async (child: ChildProcess) => {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGKILL');
          await exited;
        };
        const message = (child: ChildProcess, wanted: (m: unknown) => boolean) =>
          new Promise<void>((resolve) => {
            const on = (m: unknown) => {
              if (!wanted(m)) return;
              child.off('message', on);
              resolve();
            };
            child.on('message', on);
          });
        /**
         * Arms the relay to hold the next batch it publishes, before its mark; resolves once it is armed, with
         * the moment that batch is held (wrapped: an async function returning the promise itself would wait for
         * it). Events written after arming guarantee there is a next batch.
         */
        const arm = async (relay: ChildProcess) => {
          const armed = message(relay, (m) => m === 'armed');
          const held = message(relay, (m) => typeof m === 'object' && m !== null && 'published' in m);
          relay.send('arm');
          await armed;
          return { held };
        };
        cleanups.push(async () => {
          for (const child of children) await kill(child);
        });

        const keys = range(10).map((i) => `key${i}`);
        const perKey = 30;
        const total = keys.length * perKey;
        // Per key in order: n = 0 for every key, then n = 1, …
        const order = range(perKey).flatMap((n) => keys.map((key) => [key, n] as const));
        let written = 0;
        let producing = Promise.resolve();
        const writeUpTo = (count: number) => {
          producing = producing.then(async () => {
            for (; written < count; written++) {
              const [key, n] = order[written] as readonly [string, number];
              await produce(schemas.producer.db, key, n);
            }
          });
        };

        let relayProcess = await startWorker('relay');
        const consumerProcess = await startWorker('consumer');
        // A second consumer pod in this process: it takes over the killed one's partitions and claims what it left unacknowledged.
        const survivor = await newBus().subscribe({
          group: 'consumer',
          consumer: 'survivor',
          handle: idempotentConsumer(schemas.consumer.db, handlers, undefined),
        });
        cleanups.push(() => survivor.stop());

        writeUpTo(100);
        await waitFor(async () => (await counts()).processed >= 40, 15_000, 'the first events');
        // Killed between a publish and its mark, while events are being written; the consumer process too.
        let { held } = await arm(relayProcess);
        writeUpTo(150);
        await held;
        await kill(relayProcess);
        await kill(consumerProcess);
        const processedAtKill = (await counts()).processed;
        relayProcess = await startWorker('relay');
        writeUpTo(220);
        await waitFor(async () => (await counts()).processed >= processedAtKill + 40, 30_000, 'progress after restart');
        ({ held } = await arm(relayProcess));
        writeUpTo(total);
        await held;
        await kill(relayProcess);
        await producing;
        relayProcess = await startWorker('relay');

        await waitFor(
          async () => {
            const c = await counts();
            return c.processed === total && c.unpublished === 0; // the last batch's mark comes after its delivery
          },
          30_000,
          `${total} processed events`,
        );
        const applied = await appliedByKey(schemas.consumer.db);
        expect(applied.total).toBe(total);
        for (const key of keys) expect(applied.byKey.get(key)).toEqual(range(perKey));
        expect(await counts()).toEqual({ processed: total, unpublished: 0 });
        const ids = await streamed();
        expect(new Set(ids).size).toBe(total);
        // Each kill landed between a publish and its mark: those batches went out twice.
        expect(ids.length).toBeGreaterThan(total);
        console.info(
          `[relay kill test] ${ids.length} stream entries for ${total} events (${ids.length - total} republished after kills)`,
        );
      },
      90_000,
    );
  });
});
