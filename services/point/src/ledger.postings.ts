import type { point } from '@livehouse/contracts';
import { AppError } from '@livehouse/kit';
import type { AccountChange, NewEntry, NewTransfer, TransferRow } from './ledger.repository.ts';

/**
 * Pure posting functions: what a transfer writes (its postings, the history entries, the answer and
 * the event), computed from plain values, with no database and no randomness. The service reads the
 * state, calls one of these, and records the plan; the unit tests check each plan on its own
 * (postings sum to zero, history entries equal the wallets' changes).
 */

export const PROVIDER = 'provider';
export const REVENUE = 'revenue';
/** Bears written-off debts: the points a refunded buyer had already spent and never gave back. */
export const LOSSES = 'losses';
/** A user's debt account (a system account: it goes negative by what the user owes). */
export const debtAccount = (userId: string) => `debt:${userId}`;
export const isSystemOwner = (owner: string) =>
  owner === PROVIDER || owner === REVENUE || owner === LOSSES || owner.startsWith('debt:');

/**
 * The platform's fee on a spend: floor(amount × feeBps / 10000), in integers. Rounding goes down,
 * in the payee's favour: a 1-point spend at 10 % pays no fee.
 */
export function feeOf(amount: number, feeBps: number) {
  return Number((BigInt(amount) * BigInt(feeBps)) / 10_000n);
}

/** Where the credits of a transfer land: the shard choices are the caller's (random in production). */
export interface Shards {
  receiving: number;
  system: number;
}

/**
 * Everything one transfer writes. `main` is the signed change of one user's main account (shard 0):
 * a debit goes through the one conditional statement that can refuse it, a credit through an upsert
 * that returns the new balance. `credits` are all other account changes, applied in lock order with
 * the records. The postings are `main` and the credits.
 */
export interface Plan<A> {
  transfer: NewTransfer & { created_at: Date };
  main: { owner: string; amount: number } | undefined;
  credits: AccountChange[];
  entries: (NewEntry & { created_at: Date })[];
  answer: A;
  event?: Event;
}

export type Event =
  | {
      type: 'points.purchased';
      key: string;
      data: { transferId: string; userId: string; paymentId: string; amount: number };
    }
  | {
      type: 'points.spent';
      key: string;
      data: {
        transferId: string;
        fromUserId: string;
        toUserId: string;
        amount: number;
        fee: number;
        reason: string;
        reference: string | null;
      };
    }
  | {
      type: 'points.refunded';
      key: string;
      data: {
        transferId: string;
        refundOf: string;
        refundedKind: 'purchase' | 'spend';
        fromUserId: string;
        toUserId: string | null;
        amount: number;
        fee: number;
      };
    };

/** The postings of a plan: the main-account debit and every credit. */
export function postingsOf(plan: Pick<Plan<unknown>, 'main' | 'credits'>): AccountChange[] {
  const main = plan.main && plan.main.amount !== 0 ? [{ ...plan.main, shard: 0, system: false }] : [];
  return [...main, ...plan.credits];
}

/** Either a plan, or a business refusal decided before anything was written. */
export type Planned<A> = { ok: true; plan: Plan<A> } | { ok: false; error: AppError };

const refused = (error: AppError): { ok: false; error: AppError } => ({ ok: false, error });

function entry(
  userId: string,
  transferId: string,
  kind: NewEntry['kind'],
  amount: number,
  rest: Partial<NewEntry> & { created_at: Date },
): NewEntry & { created_at: Date } {
  return {
    user_id: userId,
    transfer_id: transferId,
    kind,
    amount,
    fee: 0,
    counterparty_id: null,
    reason: null,
    reference: null,
    refund_of: null,
    ...rest,
  };
}

function transferRow(t: Partial<NewTransfer> & Pick<NewTransfer, 'id' | 'kind' | 'amount'> & { created_at: Date }) {
  return {
    from_user: null,
    to_user: null,
    fee: 0,
    reason: null,
    reference: null,
    payment_id: null,
    refund_of: null,
    reverses: null,
    ...t,
  } satisfies NewTransfer;
}

const nonZero = (changes: AccountChange[]) => changes.filter((c) => c.amount !== 0);

export interface Stamp {
  id: string;
  at: Date;
}

/** A purchase: the provider's side goes down, the buyer's main account up. */
export function purchasePlan(
  t: Stamp,
  body: Pick<point.PurchaseBody, 'userId' | 'paymentId' | 'amount' | 'reference'>,
  shards: Pick<Shards, 'system'>,
  balanceAfter: number,
): Plan<point.Purchase> {
  const { userId, paymentId, amount } = body;
  const reference = body.reference ?? null;
  return {
    transfer: transferRow({
      id: t.id,
      kind: 'purchase',
      to_user: userId,
      amount,
      reference,
      payment_id: paymentId,
      created_at: t.at,
    }),
    main: { owner: userId, amount },
    credits: [{ owner: PROVIDER, shard: shards.system, system: true, amount: -amount }],
    // The provider's payment id in the history: what a refund or dispute names.
    entries: [entry(userId, t.id, 'purchase', amount, { reference: paymentId, created_at: t.at })],
    answer: { transferId: t.id, userId, amount, balance: balanceAfter },
    event: { type: 'points.purchased', key: userId, data: { transferId: t.id, userId, paymentId, amount } },
  };
}

/** A spend: the payer's main account pays the amount, the payee a receiving shard gets amount − fee, revenue the fee. */
export function spendPlan(
  t: Stamp,
  body: point.SpendBody,
  feeBps: number,
  shards: Shards,
  balanceAfter: number,
): Plan<point.Spend> {
  const { fromUserId, toUserId, amount, reason } = body;
  const reference = body.reference ?? null;
  const fee = feeOf(amount, feeBps);
  const common = { fee, reason, reference, created_at: t.at };
  return {
    transfer: transferRow({ id: t.id, kind: 'spend', from_user: fromUserId, to_user: toUserId, amount, ...common }),
    main: { owner: fromUserId, amount: -amount },
    credits: nonZero([
      { owner: toUserId, shard: shards.receiving, system: false, amount: amount - fee },
      { owner: REVENUE, shard: shards.system, system: true, amount: fee },
    ]),
    entries: [
      entry(fromUserId, t.id, 'spend', -amount, { counterparty_id: toUserId, ...common }),
      ...(amount > fee
        ? [entry(toUserId, t.id, 'receive', amount - fee, { counterparty_id: fromUserId, ...common })]
        : []),
    ],
    answer: { transferId: t.id, fromUserId, toUserId, amount, fee, balance: balanceAfter },
    event: {
      type: 'points.spent',
      key: fromUserId,
      data: { transferId: t.id, fromUserId, toUserId, amount, fee, reason, reference },
    },
  };
}

/** An admin's refund: opposite postings of a purchase or a spend (nothing is ever edited). */
export function refundPlan(t: Stamp, original: TransferRow | undefined, shards: Shards): Planned<point.Transfer> {
  if (!original) return refused(new AppError('not_found', 'the transfer was not found'));
  if (original.kind !== 'purchase' && original.kind !== 'spend') {
    return refused(new AppError('conflict', `a ${original.kind} cannot be refunded`));
  }
  if (original.refunded_by) {
    return refused(new AppError('already_refunded', `the transfer was refunded by ${original.refunded_by}`));
  }
  if (original.kind === 'purchase' && original.reversed > 0) {
    return refused(new AppError('conflict', 'the provider already reversed part of this purchase'));
  }
  const taker = original.to_user as string;
  const isSpend = original.kind === 'spend';
  const giver = isSpend ? (original.from_user as string) : null;
  const takenBack = isSpend ? original.amount - original.fee : original.amount;
  const credits: AccountChange[] = isSpend
    ? nonZero([
        { owner: giver as string, shard: shards.receiving, system: false, amount: original.amount },
        { owner: REVENUE, shard: shards.system, system: true, amount: -original.fee },
      ])
    : [{ owner: PROVIDER, shard: shards.system, system: true, amount: original.amount }];
  const common = {
    fee: original.fee,
    reason: original.reason,
    reference: original.reference,
    refund_of: original.id,
    created_at: t.at,
  };
  return {
    ok: true,
    plan: {
      transfer: transferRow({
        id: t.id,
        kind: 'refund',
        from_user: taker,
        to_user: giver,
        amount: original.amount,
        ...common,
      }),
      main: takenBack > 0 ? { owner: taker, amount: -takenBack } : undefined,
      credits,
      entries: [
        ...(takenBack > 0 ? [entry(taker, t.id, 'refund', -takenBack, { counterparty_id: giver, ...common })] : []),
        ...(giver ? [entry(giver, t.id, 'refund', original.amount, { counterparty_id: taker, ...common })] : []),
      ],
      answer: {
        id: t.id,
        kind: 'refund',
        fromUserId: taker,
        toUserId: giver,
        amount: original.amount,
        fee: original.fee,
        reason: original.reason,
        reference: original.reference,
        paymentId: null,
        refundOf: original.id,
        refundedBy: null,
        createdAt: t.at.toISOString(),
      },
      event: {
        type: 'points.refunded',
        key: taker,
        data: {
          transferId: t.id,
          refundOf: original.id,
          refundedKind: isSpend ? 'spend' : 'purchase',
          fromUserId: taker,
          toUserId: giver,
          amount: original.amount,
          fee: original.fee,
        },
      },
    },
  };
}

/**
 * A provider's refund or dispute: brings the points reversed from a purchase up to `total`. The
 * provider's side gets them all back; the wallet gives what its main account holds (`main`, after
 * any sweep), and the rest is the user's debt. Nothing to do when `total` was already reached.
 */
export function reversalPlan(
  t: Stamp,
  purchase: TransferRow | undefined,
  body: point.ReversalBody,
  main: number,
  shards: Pick<Shards, 'system'>,
): Planned<point.Reversal> | { ok: true; plan: undefined; answer: point.Reversal } {
  if (purchase?.kind !== 'purchase') return refused(new AppError('not_found', 'the purchase was not found'));
  const userId = purchase.to_user as string;
  // An admin refund already gave every point of it back.
  const already = purchase.refunded_by ? purchase.amount : purchase.reversed;
  const target = Math.min(body.total, purchase.amount);
  const delta = target - already;
  if (delta <= 0) {
    return {
      ok: true,
      plan: undefined,
      answer: { purchaseId: purchase.id, userId, transferId: null, reversed: already, taken: 0, debt: 0 },
    };
  }
  const taken = Math.min(delta, Math.max(0, main));
  const debt = delta - taken;
  const common = { reason: body.cause, reference: body.reference, created_at: t.at };
  return {
    ok: true,
    plan: {
      transfer: transferRow({
        id: t.id,
        kind: 'reversal',
        from_user: userId,
        amount: delta,
        reverses: purchase.id,
        ...common,
      }),
      main: taken > 0 ? { owner: userId, amount: -taken } : undefined,
      credits: nonZero([
        { owner: debtAccount(userId), shard: 0, system: true, amount: -debt },
        { owner: PROVIDER, shard: shards.system, system: true, amount: delta },
      ]),
      entries: [entry(userId, t.id, 'reversal', 0 - taken, { refund_of: purchase.id, ...common })],
      answer: { purchaseId: purchase.id, userId, transferId: t.id, reversed: already + delta, taken, debt },
    },
  };
}

/**
 * An admin settling a user's open debt: `collect` moves what the wallet's main account holds (up to
 * the debt) into the debt account; `write_off` closes the debt against the platform's losses.
 */
export function settlementPlan(
  t: Stamp,
  userId: string,
  method: point.SettleDebtBody['method'],
  state: { debt: number; main: number; balance: number },
  shards: Pick<Shards, 'system'>,
): { plan: Plan<point.DebtSettlement> | undefined; answer: point.DebtSettlement } {
  const settled = method === 'collect' ? Math.min(state.debt, Math.max(0, state.main)) : state.debt;
  const balanceAfter = method === 'collect' ? state.balance - settled : state.balance;
  const answer = { userId, settled, debt: state.debt - settled, balance: balanceAfter };
  if (settled === 0) return { plan: undefined, answer };
  const kind = method === 'collect' ? 'debt_collection' : 'debt_write_off';
  const common = { reason: kind, created_at: t.at };
  return {
    answer,
    plan: {
      transfer: transferRow({ id: t.id, kind, from_user: userId, amount: settled, ...common }),
      main: method === 'collect' ? { owner: userId, amount: -settled } : undefined,
      credits: [
        { owner: debtAccount(userId), shard: 0, system: true, amount: settled },
        ...(method === 'write_off' ? [{ owner: LOSSES, shard: shards.system, system: true, amount: -settled }] : []),
      ],
      // A write-off leaves the wallet as it is, but the history still says the debt is gone.
      entries: [entry(userId, t.id, kind, method === 'collect' ? -settled : 0, common)],
      answer,
    },
  };
}

/** A sweep: the receiving shards' points move into the main account (no history entry). */
export function sweepPlan(t: Stamp, owner: string, shards: readonly { shard: number; balance: number }[]) {
  const total = shards.reduce((sum, s) => sum + s.balance, 0);
  return {
    total,
    transfer: transferRow({
      id: t.id,
      kind: 'sweep',
      from_user: owner,
      to_user: owner,
      amount: total,
      created_at: t.at,
    }),
    postings: [
      ...shards.map((s) => ({ owner, shard: s.shard, system: false, amount: -s.balance })),
      { owner, shard: 0, system: false, amount: total },
    ],
  };
}
