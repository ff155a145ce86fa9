import { type Kysely, sql, type Transaction } from 'kysely';
import type { PointDatabase } from './db.ts';

type Trx = Transaction<PointDatabase>;

/** At most this many examples per violated invariant. */
const EXAMPLES = 10;

const sum = (column: string) => sql<number>`coalesce(sum(${sql.ref(column)}), 0)::int8`;

/** Totals that must agree: postings, balances, payments, provider and revenue sides, fees. */
export function totals(trx: Trx) {
  return trx
    .selectNoFrom((eb) => [
      eb.selectFrom('postings').select(sum('amount').as('s')).as('postings'),
      eb.selectFrom('accounts').select(sum('balance').as('s')).as('balances'),
      eb.selectFrom('payments').select(sum('amount').as('s')).as('paid'),
      eb.selectFrom('transfers').select(sum('amount').as('s')).where('kind', '=', 'purchase').as('purchased'),
      eb
        .selectFrom('transfers as r')
        .innerJoin('transfers as o', 'o.id', 'r.refund_of')
        .select(sum('r.amount').as('s'))
        .where('o.kind', '=', 'purchase')
        .as('refundedPurchases'),
      eb.selectFrom('transfers').select(sum('amount').as('s')).where('kind', '=', 'reversal').as('reversed'),
      eb.selectFrom('accounts').select(sum('balance').as('s')).where('owner', '=', 'provider').as('provider'),
      eb.selectFrom('accounts').select(sum('balance').as('s')).where('owner', '=', 'revenue').as('revenue'),
      eb.selectFrom('transfers').select(sum('fee').as('s')).where('kind', '=', 'spend').as('fees'),
      eb.selectFrom('transfers').select(sum('fee').as('s')).where('kind', '=', 'refund').as('refundedFees'),
    ])
    .executeTakeFirstOrThrow() as Promise<
    Record<
      | 'postings'
      | 'balances'
      | 'paid'
      | 'purchased'
      | 'refundedPurchases'
      | 'reversed'
      | 'provider'
      | 'revenue'
      | 'fees'
      | 'refundedFees',
      number
    >
  >;
}

/** Transfers whose postings do not sum to zero, or that have none. */
export async function unbalancedTransfers(trx: Trx) {
  const unbalanced = await trx
    .selectFrom('postings')
    .select(['transfer_id', sum('amount').as('total')])
    .groupBy('transfer_id')
    .having(sql<number>`sum(amount)`, '<>', 0)
    .limit(EXAMPLES)
    .execute();
  const empty = await trx
    .selectFrom('transfers as t')
    .select(['t.id as transfer_id', sql<number>`0::int8`.as('total')])
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('postings as p').select('p.id').whereRef('p.transfer_id', '=', 't.id'))),
    )
    .limit(EXAMPLES)
    .execute();
  return [...unbalanced, ...empty.map((e) => ({ ...e, empty: true }))];
}

/** Accounts whose cached balance differs from the sum of their postings. */
export function balanceMismatches(trx: Trx) {
  return trx
    .selectFrom('accounts as a')
    .fullJoin(
      (eb) =>
        eb
          .selectFrom('postings')
          .select(['owner', 'shard', sum('amount').as('total')])
          .groupBy(['owner', 'shard'])
          .as('p'),
      (join) => join.onRef('p.owner', '=', 'a.owner').onRef('p.shard', '=', 'a.shard'),
    )
    .select([
      sql<string>`coalesce(a.owner, p.owner)`.as('owner'),
      sql<number>`coalesce(a.shard, p.shard)`.as('shard'),
      'a.balance',
      'p.total',
    ])
    .where(sql<boolean>`coalesce(a.balance, 0) <> coalesce(p.total, 0)`)
    .limit(EXAMPLES)
    .execute();
}

/** User accounts below zero (the CHECK constraint should make this impossible). */
export function negativeUserAccounts(trx: Trx) {
  return trx
    .selectFrom('accounts')
    .select(['owner', 'shard', 'balance'])
    .where('system', '=', false)
    .where('balance', '<', 0)
    .limit(EXAMPLES)
    .execute();
}

/** Accounts named like system accounts but not marked so, or the reverse. */
export function misclassifiedAccounts(trx: Trx) {
  return trx
    .selectFrom('accounts')
    .select(['owner', 'shard', 'system'])
    .where(sql<boolean>`system <> (owner in ('provider', 'revenue', 'losses') or owner like 'debt:%')`)
    .limit(EXAMPLES)
    .execute();
}

/** Debt accounts above zero: more collected or written off than was owed. */
export function overSettledDebts(trx: Trx) {
  return trx
    .selectFrom('accounts')
    .select(['owner', 'balance'])
    .where('owner', 'like', 'debt:%')
    .where('balance', '>', 0)
    .limit(EXAMPLES)
    .execute();
}

/** Purchases whose reversals (refunds, disputes) took back more than they credited. */
export function overReversedPurchases(trx: Trx) {
  return trx
    .selectFrom('transfers as v')
    .innerJoin('transfers as t', 't.id', 'v.reverses')
    .select(['t.id', 't.amount', sum('v.amount').as('reversed')])
    .groupBy(['t.id', 't.amount'])
    .having(sql<number>`sum(v.amount)`, '>', sql<number>`t.amount`)
    .limit(EXAMPLES)
    .execute();
}

/** Payments without exactly matching purchase transfers, and purchases without a payment. */
export async function paymentMismatches(trx: Trx) {
  const payments = await trx
    .selectFrom('payments as p')
    .leftJoin('transfers as t', 't.id', 'p.transfer_id')
    .select(['p.payment_id', 'p.amount', 'p.user_id', 't.id as transfer_id', 't.amount as transfer_amount'])
    .where((eb) =>
      eb.or([
        eb('t.id', 'is', null),
        eb('t.kind', '<>', 'purchase'),
        eb('t.amount', '<>', eb.ref('p.amount')),
        eb('t.to_user', '<>', eb.ref('p.user_id')),
        eb('t.payment_id', 'is distinct from', eb.ref('p.payment_id')),
      ]),
    )
    .limit(EXAMPLES)
    .execute();
  const purchases = await trx
    .selectFrom('transfers as t')
    .leftJoin('payments as p', 'p.transfer_id', 't.id')
    .select(['t.id', 't.payment_id'])
    .where('t.kind', '=', 'purchase')
    .where('p.payment_id', 'is', null)
    .limit(EXAMPLES)
    .execute();
  return { payments, purchases };
}

/** Users whose history does not add up to their balance. */
export function historyMismatches(trx: Trx) {
  return trx
    .selectFrom((eb) =>
      eb
        .selectFrom('entries')
        .select([sql<string>`user_id::text`.as('owner'), sum('amount').as('total')])
        .groupBy('user_id')
        .as('e'),
    )
    .fullJoin(
      (eb) =>
        eb
          .selectFrom('accounts')
          .select(['owner', sum('balance').as('total')])
          .where('system', '=', false)
          .groupBy('owner')
          .as('a'),
      (join) => join.onRef('a.owner', '=', 'e.owner'),
    )
    .select([sql<string>`coalesce(e.owner, a.owner)`.as('owner'), 'e.total as history', 'a.total as balance'])
    .where(sql<boolean>`coalesce(e.total, 0) <> coalesce(a.total, 0)`)
    .limit(EXAMPLES)
    .execute();
}

/** All checks read one snapshot, so concurrent transfers cannot make a consistent ledger look broken. */
export function inSnapshot<T>(db: Kysely<PointDatabase>, fn: (trx: Trx) => Promise<T>) {
  return db.transaction().setIsolationLevel('repeatable read').execute(fn);
}
