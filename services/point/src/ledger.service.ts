import { randomInt, randomUUID } from 'node:crypto';
import type { point } from '@livehouse/contracts';
import { AppError, writeEvent } from '@livehouse/kit';
import type { Kysely, Transaction } from 'kysely';
import type { PointDatabase } from './db.ts';
import {
  type Claim,
  claimKeyOnly,
  type IdempotentRequest,
  type Outcome,
  retryTransient,
  runIdempotent,
} from './idempotency.ts';
import {
  type Plan,
  postingsOf,
  purchasePlan,
  refundPlan,
  reversalPlan,
  type Shards,
  type Stamp,
  settlementPlan,
  spendPlan,
  sweepPlan,
} from './ledger.postings.ts';
import * as repo from './ledger.repository.ts';

export { feeOf, PROVIDER, REVENUE } from './ledger.postings.ts';

/**
 * The ledger: every movement of points is a transfer whose postings (signed changes of accounts)
 * sum to zero, so the sum of all balances is always zero. System accounts: `provider` (the payment
 * provider's side: minus every point bought), `revenue` (the platform's fees), `debt:<user>` (what a
 * user owes after a refunded purchase was already spent) and `losses` (debts written off). What each
 * transfer posts is decided by the pure functions of ledger.postings.ts; this file reads the state,
 * runs them and records their plans.
 *
 * Hot accounts. A popular streamer during a raid receives thousands of spends at once; if each
 * credited one row, every spend would queue on that row's lock until the previous one committed.
 * So every account is split into shards: shard 0 is a user's *main* account, the only one ever
 * debited (one conditional UPDATE, so it can never go negative), and credits from spends land on a
 * random *receiving* shard 1..N (`point.receivingShards`). The wallet balance is the sum of all
 * shards. System accounts are hotter still (every spend pays a fee to revenue): they are credited
 * and debited on random shards 1..`point.systemShards` and have no lower bound. When a user's main account cannot pay
 * but the wallet can, a *sweep* (its own short transaction, an internal transfer with no history
 * entry) moves the receiving shards into the main account and the debit is retried.
 *
 * Why not other designs: a balance computed from postings on every read makes reads O(history) and
 * still needs a lock to check funds; escrow/batching (credit asynchronously) delays the payee's
 * balance and adds a background job that can fail. Sharding keeps one synchronous transaction.
 *
 * No deadlocks by construction: a transaction takes at most one main-account lock, and takes it
 * before any other account lock; all other account rows are locked in (owner, shard) order (one
 * sorted multi-row upsert, or a sweep locking its own shards in order). Someone waiting for a main
 * lock therefore holds no account lock, and waits for shards only go up the order: no cycle.
 * Serialization failures and deadlocks (40001, 40P01) are retried anyway, and never reported as
 * insufficient points.
 */

export interface LedgerOptions {
  feeBps: number;
  shards: number;
  systemShards: number;
}

type Trx = Transaction<PointDatabase>;

/** Why a main account could not pay, or its wallet balance after it did. */
type Debit = { kind: 'debited'; balance: number } | { kind: 'sweep' } | { kind: 'refused'; error: AppError };

export function createLedger(db: Kysely<PointDatabase>, options: LedgerOptions) {
  const shards = (): Shards => ({
    receiving: 1 + randomInt(options.shards),
    system: 1 + randomInt(options.systemShards),
  });
  const stamp = (): Stamp => ({ id: randomUUID(), at: new Date() });

  /** Runs a transfer: idempotent, retried on transient failures, swept and run again when needed. */
  async function transfer<C, A>(
    request: IdempotentRequest,
    claim: Claim<C>,
    work: (trx: Trx, claimed: C) => Promise<Outcome<A>>,
  ) {
    for (let sweeps = 0; ; sweeps++) {
      const run = await runIdempotent(db, request, claim, work);
      if (run.kind === 'answer') return run;
      // The wallet could pay a moment ago; after a few sweeps lost to concurrent spends, give up honestly.
      if (sweeps >= 5) throw new AppError('service_unavailable', 'the wallet is busy: retry with the same key');
      await sweep(run.owner);
    }
  }

  /**
   * Takes `amount` from a main account, or explains why not: a sweep is needed, the wallet owes a
   * debt (spends only: `claimed` is the result of the spend's claim-and-debit statement), or it
   * cannot pay.
   */
  async function debit(
    trx: Trx,
    owner: string,
    amount: number,
    whose: string,
    spend?: { claimed: number | undefined },
  ): Promise<Debit> {
    const balance = spend ? spend.claimed : await repo.debitMain(trx, owner, amount);
    if (balance !== undefined) return { kind: 'debited', balance };
    const wallet = await repo.walletState(trx, owner);
    if (spend && wallet.debt > 0) {
      return {
        kind: 'refused',
        error: new AppError(
          'debt_outstanding',
          `your wallet owes ${wallet.debt} points from a refunded purchase: spending waits until the debt is settled`,
        ),
      };
    }
    if (wallet.balance >= amount) return { kind: 'sweep' };
    return {
      kind: 'refused',
      error: new AppError(
        'insufficient_points',
        `${whose} wallet holds ${wallet.balance} points; this needs ${amount}`,
      ),
    };
  }

  /** Records a plan (its main-account change was applied by the caller) and its event; the answer is stored with it. */
  async function record<A>(trx: Trx, request: IdempotentRequest, plan: Plan<A>): Promise<Outcome<A>> {
    if (plan.event) await writeEvent(trx, plan.event.type, plan.event.key, plan.event.data);
    await repo.recordTransfer(
      trx,
      plan.transfer,
      postingsOf(plan),
      plan.entries,
      { ...request, status: 201, response: plan.answer },
      plan.credits,
    );
    return { kind: 'done', answer: plan.answer, stored: true };
  }

  /** Debits the plan's main account (refunds, reversals, collections), then records it. */
  async function debitAndRecord<A>(
    trx: Trx,
    request: IdempotentRequest,
    plan: Plan<A>,
    whose: string,
  ): Promise<Outcome<A>> {
    if (plan.main && plan.main.amount < 0) {
      const d = await debit(trx, plan.main.owner, -plan.main.amount, whose);
      if (d.kind !== 'debited') return d.kind === 'sweep' ? { kind: 'sweep', owner: plan.main.owner } : d;
    }
    return record(trx, request, plan);
  }

  /** Moves a user's receiving shards into the main account: main lock first, then shards in order. */
  async function sweep(owner: string) {
    await retryTransient(() =>
      db.transaction().execute(async (trx) => {
        await repo.lockMain(trx, owner);
        const locked = await repo.lockReceivingShards(trx, owner);
        if (locked.length === 0) return;
        const plan = sweepPlan(stamp(), owner, locked);
        await repo.moveToMain(
          trx,
          owner,
          locked.map((s) => s.shard),
          plan.total,
        );
        await repo.recordInternalTransfer(trx, plan.transfer, plan.postings);
      }),
    );
  }

  /** Payment-only: a settled payment becomes points, once per payment id whatever the key. */
  async function purchase(request: IdempotentRequest, body: point.PurchaseBody) {
    return transfer(request, claimKeyOnly, async (trx): Promise<Outcome<point.Purchase>> => {
      const t = stamp();
      const { userId, paymentId, amount } = body;
      if (!(await repo.insertPayment(trx, { paymentId, userId, amount, transferId: t.id }))) {
        const existing = await repo.findPayment(trx, paymentId);
        if (!existing || existing.user_id !== userId || existing.amount !== amount) {
          const error = new AppError('payment_id_reused', `payment ${paymentId} was already used for another purchase`);
          return { kind: 'refused', error };
        }
        const balance = await repo.walletBalance(trx, userId);
        return { kind: 'done', answer: { transferId: existing.transfer_id, userId, amount, balance }, stored: false };
      }
      const balance = await repo.creditMain(trx, userId, amount);
      return record(trx, request, purchasePlan(t, body, shards(), balance));
    });
  }

  async function spend(request: IdempotentRequest, body: point.SpendBody) {
    const { fromUserId, amount } = body;
    // The key is claimed and the payer debited in one statement: the spend's hot path.
    const claimAndDebit: Claim<{ balance: number | undefined }> = (trx, r) =>
      repo.claimKeyAndDebit(trx, r, fromUserId, amount);
    return transfer(request, claimAndDebit, async (trx, debited): Promise<Outcome<point.Spend>> => {
      const d = await debit(trx, fromUserId, amount, 'your', { claimed: debited.balance });
      if (d.kind === 'sweep') return { kind: 'sweep', owner: fromUserId };
      if (d.kind === 'refused') return d;
      return record(trx, request, spendPlan(stamp(), body, options.feeBps, shards(), d.balance));
    });
  }

  /** An admin reverses a purchase or a spend with a new transfer of opposite postings (nothing is ever edited). */
  async function refund(request: IdempotentRequest, transferId: string) {
    return transfer(request, claimKeyOnly, async (trx): Promise<Outcome<point.Transfer>> => {
      const planned = refundPlan(stamp(), await repo.lockTransfer(trx, transferId), shards());
      if (!planned.ok) return { kind: 'refused', error: planned.error };
      return debitAndRecord(trx, request, planned.plan, "the payee's");
    });
  }

  /**
   * Payment-only: the provider refunded or lost a dispute over a purchase's payment. Reversals of
   * one purchase take turns on its row; the main account is locked first so the part the wallet
   * cannot give back (and becomes debt) is decided on a balance no spend can change meanwhile.
   */
  async function reverse(request: IdempotentRequest, purchaseId: string, body: point.ReversalBody) {
    return transfer(request, claimKeyOnly, async (trx): Promise<Outcome<point.Reversal>> => {
      const purchase = await repo.lockTransfer(trx, purchaseId);
      const owner = purchase?.to_user;
      const state = owner ? await repo.lockMainState(trx, owner) : { main: 0, others: 0, debt: 0 };
      const planned = reversalPlan(stamp(), purchase, body, state.main, shards());
      if (!planned.ok) return { kind: 'refused', error: planned.error };
      if (!planned.plan) return { kind: 'done', answer: planned.answer, stored: false };
      // Take back from the whole wallet: if the receiving shards hold what the main account lacks, sweep first.
      if (owner && planned.plan.answer.debt > 0 && state.others > 0) return { kind: 'sweep', owner };
      return debitAndRecord(trx, request, planned.plan, "the buyer's");
    });
  }

  /** An admin settles a user's open debt: collects what the wallet holds, or writes the rest off. */
  async function settleDebt(request: IdempotentRequest, userId: string, method: point.SettleDebtBody['method']) {
    return transfer(request, claimKeyOnly, async (trx): Promise<Outcome<point.DebtSettlement>> => {
      const state = await repo.lockMainState(trx, userId);
      if (method === 'collect' && state.debt > state.main && state.others > 0) return { kind: 'sweep', owner: userId };
      const balance = state.main + state.others;
      const { plan, answer } = settlementPlan(stamp(), userId, method, { ...state, balance }, shards());
      if (!plan) return { kind: 'done', answer, stored: false };
      return debitAndRecord(trx, request, plan, "the debtor's");
    });
  }

  return { purchase, spend, refund, reverse, settleDebt, sweep };
}

export type Ledger = ReturnType<typeof createLedger>;
