import { randomUUID } from 'node:crypto';
import { eventSchemas } from '@livehouse/contracts';
import { AppError } from '@livehouse/kit';
import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { Kysely, sql, WithSchemaPlugin } from 'kysely';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PointDatabase } from '../src/db.ts';
import { retryTransient } from '../src/idempotency.ts';
import { pointService } from '../src/index.ts';
import { admin, expectReconciled, pointConfig, purchase, spend, write } from './helpers.ts';

describe('retrying transient database failures', () => {
  const failing = (code: string, times: number) => {
    let calls = 0;
    return async () => {
      calls++;
      if (calls <= times) throw Object.assign(new Error(code), { code });
      return calls;
    };
  };

  it('when a deadlock or serialization failure happens a few times, then the work is retried until it succeeds', async () => {
    expect(await retryTransient(failing('40P01', 2))).toBe(3);
    expect(await retryTransient(failing('40001', 3))).toBe(4);
  });

  it('when they never stop, then 503 service_unavailable, never insufficient_points', async () => {
    const err = await retryTransient(failing('40P01', 100)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('service_unavailable');
  });

  it('when any other error happens, then it is not retried', async () => {
    await expect(retryTransient(failing('23514', 1))).rejects.toMatchObject({ code: '23514' });
  });
});

describe.each(dbKinds)('ledger integrity on %s', (kind) => {
  let p: TestPlatform;
  let db: Kysely<PointDatabase>;
  beforeAll(async () => {
    p = await startTestPlatform([pointService], kind, pointConfig());
    db = new Kysely<PointDatabase>({
      dialect: p.backend.backend.dialect(),
      plugins: [new WithSchemaPlugin(`${p.backend.schemaPrefix}point`)],
    });
  });
  afterAll(() => p?.close());

  async function violations() {
    const res = await p.call('point', 'GET', '/admin/reconciliation', { user: admin });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(res.body.violations.length === 0);
    return res.body.violations.map((v: { invariant: string }) => v.invariant) as string[];
  }

  it('when a purchase, a spend and a refund happen, then their events are in the outbox and match the contracts', async () => {
    const [viewer, streamer] = [randomUUID(), randomUUID()];
    await purchase(p, viewer, 30);
    const spent = await spend(p, viewer, streamer, 20);
    expect((await write(p, `/transfers/${spent.body.transferId}/refund`, undefined, { user: admin })).status).toBe(201);
    const events = await db
      .selectFrom('outbox')
      .select(['type', 'key', 'data'])
      .where('key', 'in', [viewer, streamer])
      .orderBy('seq')
      .execute();
    expect(events.map((e) => e.type)).toEqual(['points.purchased', 'points.spent', 'points.refunded']);
    for (const e of events) expect(Value.Check(eventSchemas[e.type as keyof typeof eventSchemas], e.data)).toBe(true);
    expect(events[1]?.data).toMatchObject({ fromUserId: viewer, toUserId: streamer, amount: 20, fee: 2 });
    expect(events[2]?.data).toMatchObject({ refundOf: spent.body.transferId, fromUserId: streamer, toUserId: viewer });
  });

  it('when a refund is refused for lack of points, then the refusal is stored and nothing moves', async () => {
    const [viewer, streamer, other] = [randomUUID(), randomUUID(), randomUUID()];
    await purchase(p, viewer, 100);
    const spent = await spend(p, viewer, streamer, 100);
    expect((await spend(p, streamer, other, 90)).status).toBe(201);
    const key = randomUUID();
    const refused = await write(p, `/transfers/${spent.body.transferId}/refund`, undefined, { user: admin, key });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('insufficient_points');
    const again = await write(p, `/transfers/${spent.body.transferId}/refund`, undefined, { user: admin, key });
    expect(again.body).toEqual(refused.body);
    await expectReconciled(p);
  });

  it('when a cached balance is tampered with, then reconciliation names the broken invariants', async () => {
    const viewer = randomUUID();
    await purchase(p, viewer, 10);
    await db.updateTable('accounts').set({ balance: 15 }).where('owner', '=', viewer).where('shard', '=', 0).execute();
    expect(new Set(await violations())).toEqual(
      new Set(['ledger_balanced', 'balances_match_postings', 'history_matches_balances']),
    );
    await db.updateTable('accounts').set({ balance: 10 }).where('owner', '=', viewer).where('shard', '=', 0).execute();
    expect(await violations()).toEqual([]);
  });

  it('when anyone tries to edit or delete postings or drive a user account negative, then the database refuses', async () => {
    await expect(db.updateTable('postings').set({ amount: 1 }).execute()).rejects.toThrow(/append-only/);
    await expect(db.deleteFrom('transfers').execute()).rejects.toThrow(/append-only/);
    await expect(sql`truncate ${sql.table('entries')}`.execute(db)).rejects.toThrow();
    await expect(db.updateTable('accounts').set({ balance: -1 }).where('system', '=', false).execute()).rejects.toThrow(
      /accounts_user_balance_not_negative/,
    );
    expect(await violations()).toEqual([]);
  });

  // Last: these rows cannot be removed again (append-only).
  it('when a payment has no purchase or a transfer does not balance, then reconciliation reports it', async () => {
    const viewer = randomUUID();
    const bought = await purchase(p, viewer, 10);
    await db
      .insertInto('payments')
      .values({ payment_id: `stray_${randomUUID()}`, user_id: viewer, amount: 5, transfer_id: randomUUID() })
      .execute();
    await db
      .insertInto('postings')
      .values({ transfer_id: bought.transferId, owner: viewer, shard: 0, amount: 1 })
      .execute();
    expect(new Set(await violations())).toEqual(
      new Set(['ledger_balanced', 'balances_match_postings', 'purchases_match_payments']),
    );
  });
});
