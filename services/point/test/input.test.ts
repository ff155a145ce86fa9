import { randomUUID } from 'node:crypto';
import { point } from '@livehouse/contracts';
import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointService } from '../src/index.ts';
import { admin, balanceOf, expectReconciled, historyOf, pointConfig, purchase, spend, write } from './helpers.ts';

const notUuid = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.constant(null),
  fc.constant('00000000-0000-0000-0000-00000000000g'),
);

/** A valid spend body with exactly one thing wrong; raw strings are sent as they are. */
const badSpend = (from: string, to: string): fc.Arbitrary<unknown> => {
  const valid = { fromUserId: from, toUserId: to, amount: 5, reason: 'stamp' };
  return fc.oneof(
    fc
      .oneof(
        fc.integer({ max: 0 }),
        fc.integer({ min: point.MAX_AMOUNT + 1 }),
        fc.double({ min: 0.01, max: 1000, noInteger: true, noNaN: true }),
        fc.constant(2 ** 53 + 2),
        fc.string({ maxLength: 5 }),
        fc.constant(null),
        fc.boolean(),
        fc.constant([5]),
      )
      .map((amount) => ({ ...valid, amount })),
    fc
      .oneof(fc.string({ minLength: 51, maxLength: 80 }), fc.constant(''), fc.integer(), fc.constant(null))
      .map((reason) => ({ ...valid, reason })),
    fc
      .oneof(fc.string({ minLength: 101, maxLength: 150 }), fc.integer(), fc.constant(null))
      .map((reference) => ({ ...valid, reference })),
    notUuid.map((fromUserId) => ({ ...valid, fromUserId })),
    notUuid.map((toUserId) => ({ ...valid, toUserId })),
    fc.constantFrom('fromUserId', 'toUserId', 'amount', 'reason').map((k) => {
      const { [k as keyof typeof valid]: _gone, ...rest } = valid;
      return rest;
    }),
    fc
      .tuple(
        fc
          .string({ minLength: 1, maxLength: 10 })
          .filter((k) => !(k in valid) && k !== 'reference' && k !== '__proto__'),
        fc.jsonValue(),
      )
      .map(([k, v]) => ({ ...valid, [k]: v })),
    fc.constant({ ...valid, toUserId: from }),
    fc.oneof(fc.constant('{"amount":'), fc.constant('[]'), fc.constant('"5"'), fc.constant('null'), fc.constant('42')),
  );
};

describe.each(dbKinds)('point input and statements on %s', (kind) => {
  let p: TestPlatform;
  const payer = randomUUID();
  const payee = randomUUID();
  beforeAll(async () => {
    p = await startTestPlatform([pointService], kind, pointConfig());
    await purchase(p, payer, 1000);
    expect((await spend(p, payer, payee, 10)).status).toBe(201);
  });
  afterAll(() => p?.close());

  it('when a spend body is invalid in any one way, then 4xx in the error format and nothing changes', async () => {
    const before = { payer: await historyOf(p, payer), payee: await balanceOf(p, payee) };
    await fc.assert(
      fc.asyncProperty(badSpend(payer, payee), async (body) => {
        const res = await write(p, '/spends', body, { user: { id: payer } });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.body).toEqual({
          error: expect.objectContaining({
            code: expect.any(String),
            message: expect.any(String),
            requestId: expect.any(String),
          }),
        });
        expect(await balanceOf(p, payer)).toBe(990);
      }),
      { numRuns: 80 },
    );
    expect(await historyOf(p, payer)).toEqual(before.payer);
    expect(await balanceOf(p, payee)).toBe(before.payee);
    await expectReconciled(p);
  });

  it('when the Idempotency-Key is malformed or the cursor forged, then 400', async () => {
    const longKey = await write(
      p,
      '/spends',
      { fromUserId: payer, toUserId: payee, amount: 1, reason: 'x' },
      { user: { id: payer }, key: 'k'.repeat(256) },
    );
    expect(longKey.status).toBe(400);
    const cursor = await p.call(
      'point',
      'GET',
      `/wallets/${payer}/history?cursor=${Buffer.from('["x"]').toString('base64url')}`,
      { user: { id: payer } },
    );
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.code).toBe('bad_request');
  });

  it('when another user reads a history or an ordinary user reconciles, then 403', async () => {
    expect((await p.call('point', 'GET', `/wallets/${payer}/history`, { user: { id: payee } })).status).toBe(403);
    expect((await p.call('point', 'GET', '/admin/reconciliation', { user: { id: payee } })).status).toBe(403);
    expect((await write(p, `/transfers/${randomUUID()}/refund`, undefined, { user: { id: payee } })).status).toBe(403);
  });

  it('when history pages of any size and the balance are read, then each costs exactly 1 SQL statement', async () => {
    const user = randomUUID();
    await purchase(p, user, 500);
    for (let i = 0; i < 30; i++) expect((await spend(p, user, randomUUID(), 1)).status).toBe(201);
    const seen: string[] = [];
    for (const limit of [1, 7, 30, 100]) {
      const res = await p.call('point', 'GET', `/wallets/${user}/history?limit=${limit}`, { user: { id: user } });
      expect(res.status).toBe(200);
      expect(res.body.items).toHaveLength(Math.min(limit, 31));
      expect(res.headers.get('livehouse-db-queries')).toBe('1');
      let next = res.body.nextCursor;
      if (limit === 7) {
        seen.push(...res.body.items.map((e: { transferId: string }) => e.transferId));
        while (next) {
          const page = await p.call('point', 'GET', `/wallets/${user}/history?limit=7&cursor=${next}`, {
            user: { id: user },
          });
          expect(page.headers.get('livehouse-db-queries')).toBe('1');
          seen.push(...page.body.items.map((e: { transferId: string }) => e.transferId));
          next = page.body.nextCursor;
        }
        expect(new Set(seen).size).toBe(31);
      }
    }
    const wallet = await p.call('point', 'GET', `/wallets/${user}`, { user: { id: user } });
    expect(wallet.body.balance).toBe(470);
    expect(wallet.headers.get('livehouse-db-queries')).toBe('1');
    const unknown = await p.call('point', 'GET', `/wallets/${randomUUID()}`, { user: admin });
    expect(unknown.body.balance).toBe(0);
    expect(unknown.headers.get('livehouse-db-queries')).toBe('1');
  });

  it('when a spend or a purchase succeeds, then it costs 3 and 5 statements; a replay costs 2', async () => {
    const user = randomUUID();
    const bought = await write(
      p,
      '/purchases',
      { userId: user, paymentId: randomUUID(), amount: 50 },
      { as: 'payment' },
    );
    expect(bought.headers.get('livehouse-db-queries')).toBe('5');
    const key = randomUUID();
    const spent = await spend(p, user, payee, 5, key);
    expect(spent.headers.get('livehouse-db-queries')).toBe('3');
    const replay = await spend(p, user, payee, 5, key);
    expect(replay.headers.get('livehouse-db-queries')).toBe('2');
  });
});
