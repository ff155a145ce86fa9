import { randomUUID } from 'node:crypto';
import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointService } from '../src/index.ts';
import { admin, balanceOf, expectReconciled, historyOf, pointConfig, purchase, spend, write } from './helpers.ts';

describe.each(dbKinds)('point on %s', (kind) => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform([pointService], kind, pointConfig());
  });
  afterAll(() => p?.close());

  it('when a viewer buys points and spends them on a streamer, then the fee goes to revenue and the ledger balances', async () => {
    const viewer = randomUUID();
    const streamer = randomUUID();
    const bought = await purchase(p, viewer, 100);
    expect(bought.balance).toBe(100);
    const res = await spend(p, viewer, streamer, 25);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ fromUserId: viewer, toUserId: streamer, amount: 25, fee: 2, balance: 75 });
    expect(await balanceOf(p, streamer)).toBe(23);
    const history = await historyOf(p, streamer);
    expect(history).toMatchObject([{ kind: 'receive', amount: 23, counterpartyId: viewer, reason: 'test' }]);
    await expectReconciled(p);
  });

  it('when a streamer spends points received on several shards, then they are swept and spent', async () => {
    const streamer = randomUUID();
    const target = randomUUID();
    for (let i = 0; i < 6; i++) {
      const viewer = randomUUID();
      await purchase(p, viewer, 10);
      expect((await spend(p, viewer, streamer, 10)).status).toBe(201);
    }
    expect(await balanceOf(p, streamer)).toBe(54);
    const res = await spend(p, streamer, target, 54);
    expect(res.status).toBe(201);
    expect(res.body.balance).toBe(0);
    expect((await spend(p, streamer, target, 1)).body.error.code).toBe('insufficient_points');
    await expectReconciled(p);
  });

  it('when an admin refunds a spend, then both wallets return to their state and a second refund is refused', async () => {
    const viewer = randomUUID();
    const streamer = randomUUID();
    await purchase(p, viewer, 50);
    const spent = await spend(p, viewer, streamer, 20);
    const refund = await write(p, `/transfers/${spent.body.transferId}/refund`, undefined, { user: admin });
    expect(refund.status).toBe(201);
    expect(refund.body).toMatchObject({
      kind: 'refund',
      refundOf: spent.body.transferId,
      fromUserId: streamer,
      toUserId: viewer,
    });
    expect(await balanceOf(p, viewer)).toBe(50);
    expect(await balanceOf(p, streamer)).toBe(0);
    const again = await write(p, `/transfers/${spent.body.transferId}/refund`, undefined, { user: admin });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_refunded');
    const original = await p.call('point', 'GET', `/transfers/${spent.body.transferId}`, { user: admin });
    expect(original.body.refundedBy).toBe(refund.body.id);
    await expectReconciled(p);
  });

  it('when a write has no Idempotency-Key, then 400 idempotency_key_required', async () => {
    const viewer = randomUUID();
    const res = await p.call('point', 'POST', '/spends', {
      body: { fromUserId: viewer, toUserId: randomUUID(), amount: 1, reason: 'x' },
      user: { id: viewer },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('idempotency_key_required');
  });

  it('when a key is reused with another body, then 422; with the same body, then the stored answer', async () => {
    const viewer = randomUUID();
    const streamer = randomUUID();
    await purchase(p, viewer, 10);
    const key = randomUUID();
    const first = await spend(p, viewer, streamer, 3, key);
    const again = await spend(p, viewer, streamer, 3, key);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await spend(p, viewer, streamer, 4, key);
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(await balanceOf(p, viewer)).toBe(7);
  });

  it('when a payment id is reported twice under different keys, then the points are credited once', async () => {
    const viewer = randomUUID();
    const body = { userId: viewer, paymentId: `pay_${randomUUID()}`, amount: 40 };
    const first = await write(p, '/purchases', body, { as: 'payment' });
    const second = await write(p, '/purchases', body, { as: 'payment' });
    expect(second.status).toBe(201);
    expect(second.body.transferId).toBe(first.body.transferId);
    expect(await balanceOf(p, viewer)).toBe(40);
    const other = await write(p, '/purchases', { ...body, amount: 41 }, { as: 'payment' });
    expect(other.body.error.code).toBe('payment_id_reused');
  });

  it('when someone else spends a wallet, then 403 and nothing moves', async () => {
    const viewer = randomUUID();
    await purchase(p, viewer, 10);
    const res = await write(
      p,
      '/spends',
      { fromUserId: viewer, toUserId: randomUUID(), amount: 1, reason: 'x' },
      { user: { id: randomUUID() } },
    );
    expect(res.status).toBe(403);
    const byService = await write(
      p,
      '/spends',
      { fromUserId: viewer, toUserId: randomUUID(), amount: 1, reason: 'x' },
      { as: 'bff' },
    );
    expect(byService.status).toBe(403);
    const byStamp = await write(
      p,
      '/spends',
      { fromUserId: viewer, toUserId: randomUUID(), amount: 1, reason: 'stamp' },
      { as: 'stamp' },
    );
    expect(byStamp.status).toBe(201);
    expect(await balanceOf(p, viewer)).toBe(9);
  });
});

describe.each(dbKinds)('point reversals and debts on %s', (kind) => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform([pointService], kind, pointConfig());
  });
  afterAll(() => p?.close());

  const reverse = (purchaseId: string, total: number, reference: string, key?: string) =>
    write(
      p,
      `/transfers/${purchaseId}/reversals`,
      { total, cause: 'refund', reference },
      { as: 'payment', ...(key && { key }) },
    );
  const wallet = async (userId: string) => (await p.call('point', 'GET', `/wallets/${userId}`, { user: admin })).body;

  it('when a purchase partly spent is reversed, then the wallet gives what it holds, the rest is a debt that blocks spends until an admin settles it', async () => {
    const buyer = randomUUID();
    const streamer = randomUUID();
    const bought = await purchase(p, buyer, 100);
    expect((await spend(p, buyer, streamer, 60)).status).toBe(201);

    const key = randomUUID();
    const first = await reverse(bought.transferId, 100, 're_1', key);
    expect([first.status, first.body]).toEqual([
      201,
      expect.objectContaining({ purchaseId: bought.transferId, userId: buyer, reversed: 100, taken: 40, debt: 60 }),
    ]);
    expect(await wallet(buyer)).toEqual({ userId: buyer, balance: 0, debt: 60 });
    expect((await reverse(bought.transferId, 100, 're_1', key)).body).toEqual(first.body);
    const again = await reverse(bought.transferId, 100, 're_1');
    expect(again.body).toMatchObject({ transferId: null, reversed: 100, taken: 0, debt: 0 });
    await expectReconciled(p);

    // Points received later do not let the debtor spend.
    const fan = randomUUID();
    await purchase(p, fan, 30);
    expect((await spend(p, fan, buyer, 30)).status).toBe(201);
    const blocked = await spend(p, buyer, streamer, 5);
    expect([blocked.status, blocked.body.error.code]).toEqual([409, 'debt_outstanding']);

    const settle = (method: string) => write(p, `/wallets/${buyer}/debt/settlements`, { method }, { user: admin });
    expect(
      (await write(p, `/wallets/${buyer}/debt/settlements`, { method: 'collect' }, { user: { id: buyer } })).status,
    ).toBe(403);
    const collected = await settle('collect');
    expect(collected.body).toEqual({ userId: buyer, settled: 27, debt: 33, balance: 0 });
    const written = await settle('write_off');
    expect(written.body).toEqual({ userId: buyer, settled: 33, debt: 0, balance: 0 });
    expect(await wallet(buyer)).toEqual({ userId: buyer, balance: 0, debt: 0 });
    expect((await historyOf(p, buyer)).map((e) => [e.kind, e.amount])).toEqual([
      ['purchase', 100],
      ['spend', -60],
      ['reversal', -40],
      ['receive', 27],
      ['debt_collection', -27],
      ['debt_write_off', 0],
    ]);
    await purchase(p, buyer, 10);
    expect((await spend(p, buyer, streamer, 5)).status).toBe(201);
    await expectReconciled(p);
  });

  it('when the buyer, an admin or any service but payment posts a purchase, then 403 and no points are credited', async () => {
    const buyer = randomUUID();
    for (const who of [{ user: { id: buyer } }, { user: admin }, { as: 'bff' }, { as: 'stamp' }]) {
      const res = await write(
        p,
        '/purchases',
        { userId: buyer, paymentId: `pay_${randomUUID()}`, amount: 1_000_000_000 },
        who,
      );
      expect(res.status, JSON.stringify(who)).toBe(403);
    }
    expect(await wallet(buyer)).toEqual({ userId: buyer, balance: 0, debt: 0 });
  });

  it('when a user, an admin or another service asks for a reversal, then 403 and nothing moves', async () => {
    const buyer = randomUUID();
    const bought = await purchase(p, buyer, 10);
    for (const who of [{ user: { id: buyer } }, { user: admin }, { as: 'stamp' }]) {
      const res = await write(
        p,
        `/transfers/${bought.transferId}/reversals`,
        { total: 10, cause: 'dispute', reference: 'dp_1' },
        who,
      );
      expect(res.status).toBe(403);
    }
    expect(await wallet(buyer)).toEqual({ userId: buyer, balance: 10, debt: 0 });
  });
});
