import { randomUUID } from 'node:crypto';
import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointService } from '../src/index.ts';
import { balanceOf, expectReconciled, historyOf, pointConfig, purchase, spend } from './helpers.ts';

// Real HTTP, all requests in flight at once. PGlite runs them one at a time; PostgreSQL really races them.
describe.each(dbKinds)('point under concurrency on %s', (kind) => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform([pointService], kind, pointConfig({ platformFeeBps: 1000, receivingShards: 4 }));
  });
  afterAll(() => p?.close());

  /** Gives `userId` points that land on receiving shards (not the main account), via spends from a sponsor. */
  async function receive(userId: string, times: number, amount: number) {
    const sponsor = randomUUID();
    await purchase(p, sponsor, times * amount);
    for (let i = 0; i < times; i++) expect((await spend(p, sponsor, userId, amount)).status).toBe(201);
  }

  it('when A pays B and B pays A at the same time, then nobody sees a deadlock and no update is lost', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await purchase(p, a, 1000);
    await purchase(p, b, 1000);
    const results = await Promise.all(
      Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? spend(p, a, b, 10) : spend(p, b, a, 10))),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 201));
    // Each sends 40 × 10 and receives 40 × 9 (10 % fee).
    expect(await balanceOf(p, a)).toBe(960);
    expect(await balanceOf(p, b)).toBe(960);
    await expectReconciled(p);
  });

  it('when A and B pay each other from points on receiving shards, then sweeps never deadlock and every point is accounted for', async () => {
    const [c, d] = [randomUUID(), randomUUID()];
    await receive(c, 10, 10);
    await receive(d, 10, 10);
    expect(await balanceOf(p, c)).toBe(90);
    // 5-point spends pay no fee (floor of 0.5): the two wallets together always hold 180.
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? spend(p, c, d, 5) : spend(p, d, c, 5))),
    );
    for (const r of results) {
      expect([201, 409]).toContain(r.status);
      if (r.status === 409) expect(r.body.error.code).toBe('insufficient_points');
    }
    const sent = (payer: number) => results.filter((r, i) => i % 2 === payer && r.status === 201).length * 5;
    expect(await balanceOf(p, c)).toBe(90 - sent(0) + sent(1));
    expect(await balanceOf(p, d)).toBe(90 - sent(1) + sent(0));
    await expectReconciled(p);
  });

  it('when 200 spends of 1 point hit a wallet of 100 at once, then exactly 100 succeed and 100 get insufficient_points', async () => {
    const payer = randomUUID();
    await purchase(p, payer, 50);
    await receive(payer, 10, 5); // and 50 more on receiving shards, so sweeps race too
    expect(await balanceOf(p, payer)).toBe(100);
    const results = await Promise.all(Array.from({ length: 200 }, () => spend(p, payer, randomUUID(), 1)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(100);
    expect(statuses.filter((s) => s === 409)).toHaveLength(100);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.error.code).toBe('insufficient_points');
    expect(await balanceOf(p, payer)).toBe(0);
    await expectReconciled(p);
  });

  for (const funding of ['main account', 'receiving shards'] as const) {
    it(`when 50 requests with one Idempotency-Key arrive at once (points on the ${funding}), then one transfer and 50 identical answers`, async () => {
      const [payer, payee] = [randomUUID(), randomUUID()];
      if (funding === 'main account') await purchase(p, payer, 100);
      else await receive(payer, 10, 10);
      const before = await balanceOf(p, payer);
      const key = randomUUID();
      const results = await Promise.all(Array.from({ length: 50 }, () => spend(p, payer, payee, 7, key)));
      expect(results.map((r) => r.status)).toEqual(results.map(() => 201));
      for (const r of results) expect(r.body).toEqual(results[0]?.body);
      expect(results[0]?.body).toMatchObject({ amount: 7, fee: 0, balance: before - 7 });
      expect((await historyOf(p, payer)).filter((e) => e.kind === 'spend')).toHaveLength(1);
      expect(await balanceOf(p, payer)).toBe(before - 7);
      expect(await balanceOf(p, payee)).toBe(7);
      await expectReconciled(p);
    });
  }
});
