import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  debtAccount,
  feeOf,
  isSystemOwner,
  type Plan,
  postingsOf,
  purchasePlan,
  refundPlan,
  reversalPlan,
  settlementPlan,
  spendPlan,
  sweepPlan,
} from '../src/ledger.postings.ts';
import type { TransferRow } from '../src/ledger.repository.ts';

// The posting functions on their own: no database, no service.
const t = () => ({ id: randomUUID(), at: new Date('2026-01-01T00:00:00Z') });
const shards = { receiving: 2, system: 3 };
const sum = (xs: { amount: number }[]) => xs.reduce((s, x) => s + x.amount, 0);

/** Postings sum to zero, and each user's history entries equal the change of their wallet. */
function expectBalanced(plan: Plan<unknown>) {
  const postings = postingsOf(plan);
  expect(sum(postings)).toBe(0);
  expect(postings.every((p) => p.amount !== 0)).toBe(true);
  expect(postings.every((p) => p.system === isSystemOwner(p.owner))).toBe(true);
  const users = new Set([
    ...postings.filter((p) => !p.system).map((p) => p.owner),
    ...plan.entries.map((e) => e.user_id),
  ]);
  for (const user of users) {
    const wallet = sum(postings.filter((p) => p.owner === user));
    expect(sum(plan.entries.filter((e) => e.user_id === user)), `history of ${user}`).toBe(wallet);
  }
  expect(plan.transfer.amount).toBeGreaterThan(0);
}

const purchaseRow = (amount: number, extra: Partial<TransferRow> = {}): TransferRow => ({
  id: randomUUID(),
  kind: 'purchase',
  from_user: null,
  to_user: randomUUID(),
  amount,
  fee: 0,
  reason: null,
  reference: 'cs_test_1',
  payment_id: 'pi_1',
  refund_of: null,
  reverses: null,
  created_at: new Date(),
  refunded_by: null,
  reversed: 0,
  ...extra,
});

describe('ledger postings', () => {
  it('when any purchase or spend is planned, then its postings sum to zero and match the histories', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000_000 }), fc.integer({ min: 0, max: 10_000 }), (amount, feeBps) => {
        const buyer = randomUUID();
        expectBalanced(purchasePlan(t(), { userId: buyer, paymentId: 'pi_x', amount }, shards, amount));
        const spend = spendPlan(
          t(),
          { fromUserId: buyer, toUserId: randomUUID(), amount, reason: 'stamp' },
          feeBps,
          shards,
          0,
        );
        expectBalanced(spend);
        expect(spend.answer.fee).toBe(feeOf(amount, feeBps));
        expect(spend.answer.fee).toBeLessThanOrEqual(amount);
      }),
    );
  });

  it('when the fee is computed, then it rounds down in the payee’s favour', () => {
    expect([feeOf(1, 1000), feeOf(9, 1000), feeOf(10, 1000), feeOf(1_000_000_000, 10_000)]).toEqual([
      0, 0, 1, 1_000_000_000,
    ]);
  });

  it('when a spend or a purchase is refunded, then the refund is balanced; a refund, a reversed purchase or a refunded transfer are refused', () => {
    const spend = spendPlan(
      t(),
      { fromUserId: randomUUID(), toUserId: randomUUID(), amount: 100, reason: 'x' },
      1000,
      shards,
      0,
    );
    const row = { ...purchaseRow(100), ...spend.transfer, kind: 'spend' as const, refunded_by: null, reversed: 0 };
    const refund = refundPlan(t(), row, shards);
    expect(refund.ok).toBe(true);
    if (refund.ok) {
      expectBalanced(refund.plan);
      expect(refund.plan.main).toEqual({ owner: row.to_user, amount: -90 });
    }
    const purchase = refundPlan(t(), purchaseRow(40), shards);
    expect(purchase.ok && purchase.plan.main?.amount).toBe(-40);
    const codes = [
      refundPlan(t(), undefined, shards),
      refundPlan(t(), { ...row, kind: 'refund' }, shards),
      refundPlan(t(), { ...row, refunded_by: randomUUID() }, shards),
      refundPlan(t(), purchaseRow(40, { reversed: 10 }), shards),
    ].map((r) => (r.ok ? 'ok' : r.error.code));
    expect(codes).toEqual(['not_found', 'conflict', 'already_refunded', 'conflict']);
  });

  it('when a purchase is reversed with any wallet, then the wallet gives what it holds, the rest is debt, and the provider gets all', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        (amount, reversedBefore, total, main) => {
          const already = Math.min(reversedBefore, amount);
          const purchase = purchaseRow(amount, { reversed: already });
          const r = reversalPlan(t(), purchase, { total, cause: 'refund', reference: 're_1' }, main, shards);
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          const delta = Math.max(0, Math.min(total, amount) - already);
          if (!r.plan) {
            expect(delta).toBe(0);
            expect('answer' in r && r.answer.reversed).toBe(already);
            return;
          }
          expectBalanced(r.plan);
          const { taken, debt, reversed } = r.plan.answer;
          expect([taken + debt, taken, reversed]).toEqual([delta, Math.min(delta, main), already + delta]);
          expect(reversed).toBeLessThanOrEqual(amount);
          const debtPosting = r.plan.credits.find((c) => c.owner === debtAccount(purchase.to_user as string));
          expect(debtPosting?.amount ?? 0).toBe(0 - debt);
          expect(r.plan.entries).toMatchObject([
            { kind: 'reversal', amount: 0 - taken, reference: 're_1', reason: 'refund' },
          ]);
        },
      ),
    );
  });

  it('when an admin refund already gave a purchase back, then a provider reversal moves nothing', () => {
    const r = reversalPlan(
      t(),
      purchaseRow(50, { refunded_by: randomUUID() }),
      { total: 50, cause: 'dispute', reference: 'dp_1' },
      50,
      shards,
    );
    expect(r.ok && r.plan).toBeUndefined();
    const missing = reversalPlan(t(), undefined, { total: 1, cause: 'refund', reference: 're_1' }, 0, shards);
    expect(missing.ok ? 'ok' : missing.error.code).toBe('not_found');
  });

  it('when a debt is collected or written off, then the settlement is balanced and never exceeds the debt', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom('collect' as const, 'write_off' as const),
        (debt, main, method) => {
          const user = randomUUID();
          const { plan, answer } = settlementPlan(t(), user, method, { debt, main, balance: main }, shards);
          const expected = method === 'collect' ? Math.min(debt, main) : debt;
          expect([answer.settled, answer.debt]).toEqual([expected, debt - expected]);
          if (expected === 0) expect(plan).toBeUndefined();
          else if (!plan) expect.fail('a settlement that moves points has a plan');
          else expectBalanced(plan);
        },
      ),
    );
  });

  it('when receiving shards are swept, then the main account gets their sum and the transfer balances', () => {
    const plan = sweepPlan(t(), 'u', [
      { shard: 1, balance: 5 },
      { shard: 3, balance: 7 },
    ]);
    expect(plan.total).toBe(12);
    expect(sum(plan.postings)).toBe(0);
    expect(plan.postings.at(-1)).toEqual({ owner: 'u', shard: 0, system: false, amount: 12 });
  });
});
