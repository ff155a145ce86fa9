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
    const first = await write(p, '/purchases', body, { as: 'billing' });
    const second = await write(p, '/purchases', body, { as: 'billing' });
    expect(second.status).toBe(201);
    expect(second.body.transferId).toBe(first.body.transferId);
    expect(await balanceOf(p, viewer)).toBe(40);
    const other = await write(p, '/purchases', { ...body, amount: 41 }, { as: 'billing' });
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
