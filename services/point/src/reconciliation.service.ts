import type { point } from '@livehouse/contracts';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import type { PointDatabase } from './db.ts';
import * as repo from './reconciliation.repository.ts';

/**
 * Checks every invariant of the ledger on one snapshot and says what is wrong:
 * - ledger_balanced: all postings sum to zero, and so do all balances, and every transfer's postings;
 * - balances_match_postings: each cached balance equals the sum of its account's postings;
 * - purchases_match_payments: every payment received is exactly one purchase and the reverse, and
 *   the provider's balance is minus the points bought (net of refunded and reversed purchases);
 * - debts_match_reversals: no purchase reversed beyond its points, no debt settled beyond what was owed;
 * - revenue_matches_fees: revenue holds the fees of spends, net of refunded ones;
 * - no_negative_user_balance: no user account below zero; system flags on the right accounts;
 * - history_matches_balances: each user's history adds up to their balance.
 */
/** The invariants `reconcile` checks: each has a gauge series, so a clean one reads 0 rather than nothing. */
export const INVARIANTS = [
  'ledger_balanced',
  'balances_match_postings',
  'purchases_match_payments',
  'debts_match_reversals',
  'revenue_matches_fees',
  'no_negative_user_balance',
  'history_matches_balances',
] as const;

export async function reconcile(db: Kysely<PointDatabase>): Promise<point.Reconciliation> {
  const violations: point.Violation[] = [];
  const add = (invariant: string, detail: string) => violations.push({ invariant, detail });

  await repo.inSnapshot(db, async (trx) => {
    const t = await repo.totals(trx);
    if (t.postings !== 0) add('ledger_balanced', `all postings sum to ${t.postings}, not 0`);
    if (t.balances !== 0) add('ledger_balanced', `all balances sum to ${t.balances}, not 0`);
    for (const u of await repo.unbalancedTransfers(trx)) {
      add(
        'ledger_balanced',
        'empty' in u
          ? `transfer ${u.transfer_id} has no postings`
          : `transfer ${u.transfer_id} postings sum to ${u.total}`,
      );
    }

    for (const m of await repo.balanceMismatches(trx)) {
      add(
        'balances_match_postings',
        `account ${m.owner}/${m.shard} holds ${m.balance ?? 'nothing (missing)'} but its postings sum to ${m.total ?? 0}`,
      );
    }

    if (t.paid !== t.purchased)
      add('purchases_match_payments', `payments total ${t.paid}, purchases total ${t.purchased}`);
    const expectedProvider = -(t.paid - t.refundedPurchases - t.reversed);
    if (t.provider !== expectedProvider) {
      add('purchases_match_payments', `the provider account holds ${t.provider}, expected ${expectedProvider}`);
    }
    const { payments, purchases } = await repo.paymentMismatches(trx);
    for (const p of payments) {
      add(
        'purchases_match_payments',
        p.transfer_id
          ? `payment ${p.payment_id} of ${p.amount} does not match purchase ${p.transfer_id} of ${p.transfer_amount}`
          : `payment ${p.payment_id} of ${p.amount} has no purchase`,
      );
    }
    for (const p of purchases) add('purchases_match_payments', `purchase ${p.id} has no payment (${p.payment_id})`);

    for (const p of await repo.overReversedPurchases(trx)) {
      add('debts_match_reversals', `purchase ${p.id} of ${p.amount} was reversed by ${p.reversed}`);
    }
    for (const d of await repo.overSettledDebts(trx)) {
      add('debts_match_reversals', `${d.owner} holds ${d.balance}: more was settled than owed`);
    }

    const expectedRevenue = t.fees - t.refundedFees;
    if (t.revenue !== expectedRevenue) {
      add('revenue_matches_fees', `the revenue account holds ${t.revenue}, fees net of refunds are ${expectedRevenue}`);
    }

    for (const a of await repo.negativeUserAccounts(trx)) {
      add('no_negative_user_balance', `account ${a.owner}/${a.shard} holds ${a.balance}`);
    }
    for (const a of await repo.misclassifiedAccounts(trx)) {
      add('no_negative_user_balance', `account ${a.owner}/${a.shard} is wrongly marked system=${a.system}`);
    }

    for (const h of await repo.historyMismatches(trx)) {
      add(
        'history_matches_balances',
        `user ${h.owner} has history summing to ${h.history ?? 0}, balance ${h.balance ?? 0}`,
      );
    }
  });

  return { ok: violations.length === 0, checkedAt: new Date().toISOString(), violations };
}

/**
 * Runs `reconcile` now and then every `intervalMs` (each pod, on one snapshot: read-only), and exposes the outcome:
 * `livehouse_ledger_reconciliation_mismatches` per invariant (the examples found, at most 10 per query) and the time
 * of the last run that completed, so that an alert sees both a broken ledger and a check that stopped running.
 */
export function startReconciliation(
  db: Kysely<PointDatabase>,
  options: { intervalMs: number; registry: Registry; log: FastifyBaseLogger },
) {
  const mismatches = new Gauge({
    name: 'livehouse_ledger_reconciliation_mismatches',
    help: 'Violations the last ledger reconciliation found, by invariant (0: clean)',
    labelNames: ['invariant'],
    registers: [options.registry],
    aggregator: 'max',
  });
  const lastRun = new Gauge({
    name: 'livehouse_ledger_reconciliation_last_run_timestamp_seconds',
    help: 'When the last ledger reconciliation completed (Unix time)',
    registers: [options.registry],
    aggregator: 'max',
  });
  let running: Promise<void> | undefined;
  const run = async () => {
    try {
      const result = await reconcile(db);
      for (const invariant of INVARIANTS) {
        mismatches.set({ invariant }, result.violations.filter((v) => v.invariant === invariant).length);
      }
      lastRun.set(Date.parse(result.checkedAt) / 1000);
      if (!result.ok) options.log.error({ violations: result.violations }, 'ledger reconciliation is not clean');
    } catch (err) {
      options.log.warn({ err }, 'ledger reconciliation could not run');
    }
  };
  const tick = () => {
    running ??= run().finally(() => {
      running = undefined;
    });
  };
  tick();
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
