import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventBus } from '../../src/events/redis-bus.ts';
import { createOutboxTable, type OutboxDatabase, writeEvent } from '../../src/outbox.ts';
import { defineService } from '../../src/service.ts';
import { FaultProxy } from '../../src/testing/fault-proxy.ts';
import { dbKinds, redisUrl, startTestPlatform, type TestPlatform } from '../../src/testing.ts';

/** A producer whose one route writes an event in its own transaction. */
const producer = defineService<Record<string, never>, OutboxDatabase>({
  name: 'producer',
  config: {},
  dependsOn: [],
  migrations: { '0001_outbox': { up: (db) => createOutboxTable(db) } },
  produces: ['user.followed'],
  routes: async (app, ctx) => {
    app.post('/emit', async (_request, reply) => {
      await ctx.db
        .transaction()
        .execute((trx) => writeEvent(trx, 'user.followed', 'k', { followerId: 'a', followeeId: 'b' }));
      return reply.code(201).send({});
    });
  },
});

const lagOf = async (p: TestPlatform) => {
  const text = await (await fetch(`${p.services.get('producer')?.adminUrl}/metrics`)).text();
  const value = /^livehouse_outbox_lag_seconds\{[^}]*service="producer"[^}]*\} (\S+)$/m.exec(text)?.[1];
  return value === undefined ? undefined : Number(value);
};

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Outbox lag (issue 13, item 14): what waits in the outbox, read from the live /metrics while the bus is away.
describe.skipIf(!redisUrl).each(dbKinds)('outbox lag on %s', (kind) => {
  let proxy: FaultProxy;
  let bus: RedisEventBus;
  let p: TestPlatform;
  beforeAll(async () => {
    const target = new URL(redisUrl as string);
    proxy = await FaultProxy.start({ target: `${target.hostname}:${target.port || 6379}` });
    const viaProxy = new URL(redisUrl as string);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    bus = new RedisEventBus({ url: viaProxy.toString(), prefix: `livehouse:test:${randomBytes(4).toString('hex')}:` });
    p = await startTestPlatform([producer], kind, { bus });
  });
  afterAll(async () => {
    await p?.close();
    await bus?.close();
    await proxy?.close();
  });

  it('when the bus is down, then the lag grows with the oldest waiting row; when it is back, the relay catches up and the lag is 0', async () => {
    expect((await p.call('producer', 'POST', '/emit')).status).toBe(201);
    await until('the first event relayed', async () => (await lagOf(p)) === 0);

    await proxy.set('down');
    expect((await p.call('producer', 'POST', '/emit')).status).toBe(201);
    await until('a lag of over a second', async () => ((await lagOf(p)) ?? 0) > 1);
    expect((await p.call('producer', 'POST', '/emit')).status).toBe(201);
    const waiting = await (p.services.get('producer')?.built.database?.db as Kysely<OutboxDatabase> | undefined)
      ?.selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('published_at', 'is', null)
      .executeTakeFirstOrThrow();
    expect(Number(waiting?.n)).toBe(2);

    await proxy.set('pass');
    await until('the relay to catch up', async () => (await lagOf(p)) === 0);
  }, 60_000);
});
