import { randomInt, randomUUID } from 'node:crypto';
import type { point } from '@livehouse/contracts';
import { AppError, writeEvent } from '@livehouse/kit';
import type { Kysely, Transaction } from 'kysely';
import type { PointDatabase } from './db.ts';
import {
  type Claim,
  claimKeyOnly,
  type IdempotentRequest,
  Refusal,
  retryTransient,
  runIdempotent,
} from './idempotency.ts';
import * as repo from './ledger.repository.ts';

/**
 * The ledger: every movement of points is a transfer whose postings (signed changes of accounts)
 * sum to zero, so the sum of all balances is always zero. System accounts: `provider` (the payment
 * provider's side: minus every point bought) and `revenue` (the platform's fees).
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

export const PROVIDER = 'provider';
export const REVENUE = 'revenue';

/**
 * The platform's fee on a spend: floor(amount × feeBps / 10000), in integers. Rounding goes down,
 * in the payee's favour: a 1-point spend at 10 % pays no fee.
 */
export function feeOf(amount: number, feeBps: number) {
  return Number((BigInt(amount) * BigInt(feeBps)) / 10_000n);
}

/** Thrown inside a transfer transaction: the main account cannot pay but the whole wallet can. */
class NeedsSweep extends Error {
  readonly owner: string;
  constructor(owner: string) {
    super(`sweep ${owner}`);
    this.owner = owner;
  }
}

export interface LedgerOptions {
  feeBps: number;
  shards: number;
  systemShards: number;
}

export function createLedger(db: Kysely<PointDatabase>, options: LedgerOptions) {
  const receivingShard = () => 1 + randomInt(options.shards);
  const systemShard = () => 1 + randomInt(options.systemShards);

  /** Runs a transfer: idempotent, retried on transient failures, swept and retried when needed. */
  async function transfer<C>(
    request: IdempotentRequest,
    claim: Claim<C>,
    work: (trx: Transaction<PointDatabase>, claimed: C) => Promise<unknown>,
  ) {
    for (let sweeps = 0; ; sweeps++) {
      try {
        return await runIdempotent(db, request, claim, work);
      } catch (err) {
        if (!(err instanceof NeedsSweep)) throw err;
        // The wallet could pay a moment ago; after a few sweeps lost to concurrent spends, give up honestly.
        if (sweeps >= 5) throw new AppError('service_unavailable', 'the wallet is busy: retry with the same key');
        await sweep(err.owner);
      }
    }
  }

  /**
   * Takes `amount` from a user's main account (unless `debited` says it was done already), or explains
   * why not, before anything was written: a sweep is needed, or the wallet cannot pay.
   */
  async function debit(
    trx: Transaction<PointDatabase>,
    owner: string,
    amount: number,
    whose: string,
    debited?: { balance: number | undefined },
  ) {
    const balance = debited ? debited.balance : await repo.debitMain(trx, owner, amount);
    if (balance !== undefined) return balance;
    const total = await repo.walletBalance(trx, owner);
    if (total >= amount) throw new NeedsSweep(owner);
    throw new Refusal(
      new AppError('insufficient_points', `${whose} wallet holds ${total} points; this needs ${amount}`),
    );
  }

  /** Moves a user's receiving shards into the main account: main lock first, then shards in order. */
  async function sweep(owner: string) {
    await retryTransient(() =>
      db.transaction().execute(async (trx) => {
        await repo.lockMain(trx, owner);
        const shards = await repo.lockReceivingShards(trx, owner);
        if (shards.length === 0) return;
        const total = shards.reduce((sum, s) => sum + s.balance, 0);
        await repo.moveToMain(
          trx,
          owner,
          shards.map((s) => s.shard),
          total,
        );
        await repo.recordInternalTransfer(trx, internalTransfer(owner, total), [
          ...shards.map((s) => ({ owner, shard: s.shard, system: false, amount: -s.balance })),
          { owner, shard: 0, system: false, amount: total },
        ]);
      }),
    );
  }

  async function purchase(request: IdempotentRequest, body: point.PurchaseBody) {
    const { userId, paymentId, amount } = body;
    return transfer(request, claimKeyOnly, async (trx) => {
      const id = randomUUID();
      const createdAt = new Date();
      if (!(await repo.insertPayment(trx, { paymentId, userId, amount, transferId: id }))) {
        // Idempotent on the payment id: the same payment is credited once, whatever the key.
        const existing = await repo.findPayment(trx, paymentId);
        if (!existing || existing.user_id !== userId || existing.amount !== amount) {
          throw new Refusal(
            new AppError('payment_id_reused', `payment ${paymentId} was already used for another purchase`),
          );
        }
        const answer = {
          transferId: existing.transfer_id,
          userId,
          amount,
          balance: await repo.walletBalance(trx, userId),
        } satisfies point.Purchase;
        await repo.storeAnswer(trx, request.scope, request.key, 201, answer);
        return answer;
      }
      const balance = await repo.creditMain(trx, userId, amount);
      const providerSide = { owner: PROVIDER, shard: systemShard(), system: true, amount: -amount };
      const answer = { transferId: id, userId, amount, balance } satisfies point.Purchase;
      await writeEvent(trx, 'points.purchased', userId, { transferId: id, userId, paymentId, amount });
      await repo.recordTransfer(
        trx,
        {
          id,
          kind: 'purchase',
          from_user: null,
          to_user: userId,
          amount,
          fee: 0,
          reason: null,
          reference: null,
          payment_id: paymentId,
          refund_of: null,
          created_at: createdAt,
        },
        [{ owner: userId, shard: 0, system: false, amount }, providerSide],
        [entry(userId, id, 'purchase', amount, { created_at: createdAt })],
        { ...request, status: 201, response: answer },
        [providerSide],
      );
      return answer;
    });
  }

  async function spend(request: IdempotentRequest, body: point.SpendBody) {
    const { fromUserId, toUserId, amount, reason } = body;
    const reference = body.reference ?? null;
    // The key is claimed and the payer debited in one statement: the spend's hot path.
    const claimAndDebit: Claim<{ balance: number | undefined }> = (trx, r) =>
      repo.claimKeyAndDebit(trx, r, fromUserId, amount);
    return transfer(request, claimAndDebit, async (trx, debited) => {
      const balance = await debit(trx, fromUserId, amount, 'your', debited);
      const fee = feeOf(amount, options.feeBps);
      const id = randomUUID();
      const createdAt = new Date();
      const credits = [
        { owner: toUserId, shard: receivingShard(), system: false, amount: amount - fee },
        { owner: REVENUE, shard: systemShard(), system: true, amount: fee },
      ].filter((c) => c.amount !== 0);
      const answer = { transferId: id, fromUserId, toUserId, amount, fee, balance } satisfies point.Spend;
      const common = { fee, reason, reference, created_at: createdAt };
      await writeEvent(trx, 'points.spent', fromUserId, {
        transferId: id,
        fromUserId,
        toUserId,
        amount,
        fee,
        reason,
        reference,
      });
      await repo.recordTransfer(
        trx,
        {
          id,
          kind: 'spend',
          from_user: fromUserId,
          to_user: toUserId,
          amount,
          payment_id: null,
          refund_of: null,
          ...common,
        },
        [{ owner: fromUserId, shard: 0, system: false, amount: -amount }, ...credits],
        [
          entry(fromUserId, id, 'spend', -amount, { counterparty_id: toUserId, ...common }),
          ...(amount > fee
            ? [entry(toUserId, id, 'receive', amount - fee, { counterparty_id: fromUserId, ...common })]
            : []),
        ],
        { ...request, status: 201, response: answer },
        credits,
      );
      return answer;
    });
  }

  /** Reverses a purchase or a spend with a new transfer of opposite postings (nothing is ever edited). */
  async function refund(request: IdempotentRequest, transferId: string) {
    return transfer(request, claimKeyOnly, async (trx) => {
      const original = await repo.lockTransfer(trx, transferId);
      if (!original) throw new Refusal(new AppError('not_found', 'the transfer was not found'));
      if (original.kind === 'refund') throw new Refusal(new AppError('conflict', 'a refund cannot be refunded'));
      if (original.refunded_by) {
        throw new Refusal(new AppError('already_refunded', `the transfer was refunded by ${original.refunded_by}`));
      }
      const id = randomUUID();
      const createdAt = new Date();
      const common = {
        fee: original.fee,
        reason: original.reason,
        reference: original.reference,
        refund_of: original.id,
        created_at: createdAt,
      };
      let taker: string;
      let giver: string | null;
      let takenBack: number;
      let others: repo.AccountChange[];
      if (original.kind === 'spend') {
        taker = original.to_user as string;
        giver = original.from_user as string;
        takenBack = original.amount - original.fee;
        others = [
          { owner: giver, shard: receivingShard(), system: false, amount: original.amount },
          { owner: REVENUE, shard: systemShard(), system: true, amount: -original.fee },
        ].filter((c) => c.amount !== 0);
      } else {
        taker = original.to_user as string;
        giver = null;
        takenBack = original.amount;
        others = [{ owner: PROVIDER, shard: systemShard(), system: true, amount: original.amount }];
      }
      if (takenBack > 0) await debit(trx, taker, takenBack, "the payee's");
      const answer = {
        id,
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
        createdAt: createdAt.toISOString(),
      } satisfies point.Transfer;
      const entries = [
        ...(takenBack > 0 ? [entry(taker, id, 'refund', -takenBack, { counterparty_id: giver, ...common })] : []),
        ...(giver ? [entry(giver, id, 'refund', original.amount, { counterparty_id: taker, ...common })] : []),
      ];
      await writeEvent(trx, 'points.refunded', taker, {
        transferId: id,
        refundOf: original.id,
        refundedKind: original.kind === 'spend' ? 'spend' : 'purchase',
        fromUserId: taker,
        toUserId: giver,
        amount: original.amount,
        fee: original.fee,
      });
      await repo.recordTransfer(
        trx,
        {
          id,
          kind: 'refund',
          from_user: taker,
          to_user: giver,
          amount: original.amount,
          payment_id: null,
          ...common,
        },
        [...(takenBack > 0 ? [{ owner: taker, shard: 0, system: false, amount: -takenBack }] : []), ...others],
        entries,
        { ...request, status: 201, response: answer },
        others,
      );
      return answer;
    });
  }

  return { purchase, spend, refund, sweep };
}

export type Ledger = ReturnType<typeof createLedger>;

function entry(
  userId: string,
  transferId: string,
  kind: repo.NewEntry['kind'],
  amount: number,
  rest: Partial<repo.NewEntry> & { created_at: Date },
): repo.NewEntry & { created_at: Date } {
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

function internalTransfer(owner: string, amount: number): repo.NewTransfer {
  return {
    id: randomUUID(),
    kind: 'sweep',
    from_user: owner,
    to_user: owner,
    amount,
    fee: 0,
    reason: null,
    reference: null,
    payment_id: null,
    refund_of: null,
  };
}
