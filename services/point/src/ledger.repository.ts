import { statement } from '@livehouse/kit';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { EntriesTable, PointDatabase, TransferKindColumn, TransfersTable } from './db.ts';
import { debtAccount } from './ledger.postings.ts';

type Db = Kysely<PointDatabase> | Transaction<PointDatabase>;
type Trx = Transaction<PointDatabase>;

/** A signed change of one account. */
export interface AccountChange {
  owner: string;
  shard: number;
  system: boolean;
  amount: number;
}

export type NewTransfer = Omit<TransfersTable, 'created_at'> & { created_at?: Date };
export type NewEntry = Omit<EntriesTable, 'id' | 'created_at'> & { created_at?: Date };

// ---------------------------------------------------------------- idempotency keys

/**
 * Claims (scope, key) for this transaction. A concurrent claimer of the same key blocks here until
 * this transaction ends, then finds the row (and its stored answer) or, if this one rolled back, claims it.
 */
const claimKeyStatement = statement(
  'point.claimKey',
  (db: Kysely<PointDatabase>, a: { scope: string; key: string; request_hash: string }) =>
    db
      .insertInto('idempotency_keys')
      .values({ ...a, status: null, response: null })
      .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
      .returning('scope'),
  { scope: 'service:payment', key: 'k1', request_hash: 'h' },
);

export async function claimKey(trx: Trx, scope: string, key: string, requestHash: string) {
  const row = await claimKeyStatement.first(trx, { scope, key, request_hash: requestHash });
  return row !== undefined;
}

export function findKey(trx: Trx, scope: string, key: string) {
  return trx
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'status', 'response'])
    .where('scope', '=', scope)
    .where('key', '=', key)
    .executeTakeFirst();
}

export async function storeAnswer(trx: Trx, scope: string, key: string, status: number, response: unknown) {
  await trx
    .updateTable('idempotency_keys')
    .set({ status, response: JSON.stringify(response) })
    .where('scope', '=', scope)
    .where('key', '=', key)
    .execute();
}

// ---------------------------------------------------------------- balances

/** The owner's points outside the main account (shards ≥ 1), as a sub-select. */
const otherShards = (db: Db, owner: string) =>
  db
    .selectFrom('accounts as o')
    .select(sql<number>`coalesce(sum(o.balance), 0)::int8`.as('s'))
    .where('o.owner', '=', owner)
    .where('o.shard', '>', 0);

/**
 * The one conditional statement that debits a user: it takes points from the main account only if
 * enough are there, so no interleaving can make it negative. Returns undefined when there were not.
 * The balance returned is the whole wallet after the debit.
 */
export async function debitMain(trx: Trx, owner: string, amount: number) {
  const row = await trx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '-', amount) }))
    .where('owner', '=', owner)
    .where('shard', '=', 0)
    .where('balance', '>=', amount)
    .returning(['balance', otherShards(trx, owner).as('others')])
    .executeTakeFirst();
  return row && row.balance + (row.others ?? 0);
}

/**
 * The hot path of a spend in one statement: claims the idempotency key and, only if it was claimed,
 * debits the main account conditionally (see debitMain). Undefined when the key was not claimed;
 * `balance` undefined when the main account could not pay.
 */
const claimKeyAndDebitStatement = statement(
  'point.claimKeyAndDebit',
  (
    db: Kysely<PointDatabase>,
    a: { scope: string; key: string; hash: string; owner: string; debt: string; amount: number },
  ) =>
    db
      .with('k', (db) =>
        db
          .insertInto('idempotency_keys')
          .values({ scope: a.scope, key: a.key, request_hash: a.hash, status: null, response: null })
          .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
          .returning('scope'),
      )
      .with('d', (db) =>
        db
          .updateTable('accounts')
          .set((eb) => ({ balance: eb('balance', '-', a.amount) }))
          .where('owner', '=', a.owner)
          .where('shard', '=', 0)
          .where('balance', '>=', a.amount)
          .where((eb) => eb.exists(eb.selectFrom('k').select('k.scope')))
          // A wallet that owes a debt cannot spend (the fallback in the service says so).
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom('accounts as x')
                  .select('x.owner')
                  .where('x.owner', '=', a.debt)
                  .where('x.balance', '<', 0),
              ),
            ),
          )
          .returning('balance'),
      )
      .selectNoFrom((eb) => [
        eb.selectFrom('k').select(eb.fn.countAll<number>().as('n')).as('claimed'),
        eb.selectFrom('d').select('d.balance').as('main'),
        otherShards(db, a.owner).as('others'),
      ]),
  { scope: 'user:u1', key: 'k1', hash: 'h', owner: 'u1', debt: 'debt:u1', amount: 10 },
);

export async function claimKeyAndDebit(
  trx: Trx,
  key: { scope: string; key: string; hash: string },
  owner: string,
  amount: number,
) {
  const row = await claimKeyAndDebitStatement.firstOrThrow(trx, {
    scope: key.scope,
    key: key.key,
    hash: key.hash,
    owner,
    debt: debtAccount(owner),
    amount,
  });
  if (Number(row.claimed) === 0) return undefined;
  return { balance: row.main === null ? undefined : row.main + (row.others ?? 0) };
}

/** Credits a user's main account, creating it on first use; returns the whole wallet after it. */
const creditMainStatement = statement(
  'point.creditMain',
  (db: Kysely<PointDatabase>, a: { owner: string; amount: number }) =>
    db
      .insertInto('accounts')
      .values({ owner: a.owner, shard: 0, system: false, balance: a.amount })
      .onConflict((oc) =>
        oc.columns(['owner', 'shard']).doUpdateSet((eb) => ({ balance: eb('accounts.balance', '+', a.amount) })),
      )
      .returning(['balance', otherShards(db, a.owner).as('others')]),
  { owner: 'u1', amount: 10 },
);

export async function creditMain(trx: Trx, owner: string, amount: number) {
  const row = await creditMainStatement.firstOrThrow(trx, { owner, amount });
  return row.balance + (row.others ?? 0);
}

/** The whole wallet: main account plus receiving shards, in one consistent snapshot. */
export async function walletBalance(db: Db, owner: string) {
  return (await walletState(db, owner)).balance;
}

/** The wallet and its open debt (points owed from reversed purchases), in one statement. */
const walletStateStatement = statement(
  'point.walletState',
  (db: Kysely<PointDatabase>, a: { owner: string; debt: string }) =>
    db
      .selectFrom('accounts')
      .select([
        sql<number>`coalesce(sum(balance) filter (where owner = ${a.owner}), 0)::int8`.as('balance'),
        sql<number>`coalesce(-sum(balance) filter (where owner = ${a.debt}), 0)::int8`.as('debt'),
      ])
      .where('owner', 'in', [a.owner, a.debt]),
  { owner: 'u1', debt: 'debt:u1' },
);

export async function walletState(db: Db, owner: string) {
  const row = await walletStateStatement.firstOrThrow(db, { owner, debt: debtAccount(owner) });
  return { balance: Number(row.balance), debt: Number(row.debt) };
}

/**
 * Credits (and system debits) are applied in (owner, shard) order, so every transaction locks
 * these rows in the same global order. A multi-row upsert processes its rows in the order given.
 */
function inLockOrder(changes: readonly AccountChange[]) {
  if (changes.length === 0) throw new Error('a transfer credits at least one account');
  return [...changes].sort((a, b) => (a.owner === b.owner ? a.shard - b.shard : a.owner < b.owner ? -1 : 1));
}

// ---------------------------------------------------------------- sweeping receiving shards

/** Creates (if needed) and locks the owner's main account. */
export async function lockMain(trx: Trx, owner: string) {
  await lockMainState(trx, owner);
}

/**
 * Creates (if needed) and locks the owner's main account; returns its balance, the receiving shards'
 * points and the open debt (the debt account is only read: what changes it also holds this lock).
 */
export async function lockMainState(trx: Trx, owner: string) {
  const row = await trx
    .insertInto('accounts')
    .values({ owner, shard: 0, system: false, balance: 0 })
    .onConflict((oc) => oc.columns(['owner', 'shard']).doUpdateSet((eb) => ({ balance: eb.ref('accounts.balance') })))
    .returning([
      'balance',
      otherShards(trx, owner).as('others'),
      (eb) =>
        eb
          .selectFrom('accounts as x')
          .select(sql<number>`coalesce(-sum(x.balance), 0)::int8`.as('d'))
          .where('x.owner', '=', debtAccount(owner))
          .as('debt'),
    ])
    .executeTakeFirstOrThrow();
  return { main: Number(row.balance), others: Number(row.others ?? 0), debt: Number(row.debt ?? 0) };
}

/** Locks the owner's non-empty receiving shards in shard order and returns their balances. */
export function lockReceivingShards(trx: Trx, owner: string) {
  return trx
    .selectFrom('accounts')
    .select(['shard', 'balance'])
    .where('owner', '=', owner)
    .where('shard', '>', 0)
    .where('balance', '>', 0)
    .orderBy('shard')
    .forUpdate()
    .execute();
}

/** Empties the given (locked) shards into the (locked) main account. */
export async function moveToMain(trx: Trx, owner: string, shards: readonly number[], total: number) {
  await trx
    .updateTable('accounts')
    .set((eb) => ({
      balance: eb
        .case()
        .when('shard', '=', 0)
        .then(eb('balance', '+', total))
        .else(eb.lit(0))
        .end(),
    }))
    .where('owner', '=', owner)
    .where('shard', 'in', [0, ...shards])
    .execute();
}

// ---------------------------------------------------------------- transfers

/**
 * Records a transfer (postings, history entries, the idempotent answer) and applies its credits:
 * one statement (data-modifying CTEs). It comes last in the transaction, so the hot payee and
 * system shards it locks stay locked only for this statement and the commit.
 */
const recordTransferStatement = statement(
  'point.recordTransfer',
  (
    db: Kysely<PointDatabase>,
    a: {
      transfer: NewTransfer;
      postings: { transfer_id: string; owner: string; shard: number; amount: number }[];
      entries: NewEntry[];
      answer: { scope: string; key: string; status: number; response: string };
      credits: { owner: string; shard: number; system: boolean; balance: number }[];
    },
  ) =>
    db
      .with('t', (db) => db.insertInto('transfers').values(a.transfer))
      .with('p', (db) => db.insertInto('postings').values(a.postings))
      .with('e', (db) => db.insertInto('entries').values(a.entries))
      .with('k', (db) =>
        db
          .updateTable('idempotency_keys')
          .set({ status: a.answer.status, response: a.answer.response })
          .where('scope', '=', a.answer.scope)
          .where('key', '=', a.answer.key),
      )
      .insertInto('accounts')
      .values(a.credits)
      .onConflict((oc) =>
        oc
          .columns(['owner', 'shard'])
          .doUpdateSet((eb) => ({ balance: eb('accounts.balance', '+', eb.ref('excluded.balance')) })),
      ),
  {
    transfer: {
      id: 't1',
      kind: 'spend',
      from_user: 'u1',
      to_user: 'u2',
      amount: 10,
      fee: 1,
      reason: 'stamp',
      reference: null,
      payment_id: null,
      refund_of: null,
      reverses: null,
      created_at: new Date(0),
    },
    postings: [
      { transfer_id: 't1', owner: 'u1', shard: 0, amount: -10 },
      { transfer_id: 't1', owner: 'u2', shard: 3, amount: 9 },
      { transfer_id: 't1', owner: 'revenue', shard: 2, amount: 1 },
    ],
    entries: [
      {
        user_id: 'u1',
        transfer_id: 't1',
        kind: 'spend',
        amount: -10,
        fee: 1,
        counterparty_id: 'u2',
        reason: 'stamp',
        reference: null,
        refund_of: null,
        created_at: new Date(0),
      },
      {
        user_id: 'u2',
        transfer_id: 't1',
        kind: 'receive',
        amount: 9,
        fee: 1,
        counterparty_id: 'u1',
        reason: 'stamp',
        reference: null,
        refund_of: null,
        created_at: new Date(0),
      },
    ],
    answer: { scope: 'user:u1', key: 'k1', status: 201, response: '{}' },
    credits: [
      { owner: 'revenue', shard: 2, system: true, balance: 1 },
      { owner: 'u2', shard: 3, system: false, balance: 9 },
    ],
  },
);

export async function recordTransfer(
  trx: Trx,
  transfer: NewTransfer,
  postings: readonly AccountChange[],
  entries: readonly NewEntry[],
  answer: { scope: string; key: string; status: number; response: unknown },
  credits: readonly AccountChange[],
) {
  await recordTransferStatement.execute(trx, {
    transfer,
    postings: postings.map((p) => ({ transfer_id: transfer.id, owner: p.owner, shard: p.shard, amount: p.amount })),
    entries: [...entries],
    answer: { scope: answer.scope, key: answer.key, status: answer.status, response: JSON.stringify(answer.response) },
    credits: inLockOrder(credits).map((c) => ({ owner: c.owner, shard: c.shard, system: c.system, balance: c.amount })),
  });
}

/** A transfer without user-facing traces (sweeps): transfer and postings in one statement. */
export async function recordInternalTransfer(trx: Trx, transfer: NewTransfer, postings: readonly AccountChange[]) {
  await trx
    .with('t', (db) => db.insertInto('transfers').values(transfer))
    .insertInto('postings')
    .values(postings.map((p) => ({ transfer_id: transfer.id, owner: p.owner, shard: p.shard, amount: p.amount })))
    .execute();
}

const transferColumns = [
  't.id',
  't.kind',
  't.from_user',
  't.to_user',
  't.amount',
  't.fee',
  't.reason',
  't.reference',
  't.payment_id',
  't.refund_of',
  't.reverses',
  't.created_at',
] as const;

/** A transfer, the refund that reversed it, if any, and the points the provider's reversals took back. */
export function findTransfer(db: Db, id: string) {
  return db
    .selectFrom('transfers as t')
    .select([
      ...transferColumns,
      (eb) => eb.selectFrom('transfers as r').select('r.id').whereRef('r.refund_of', '=', 't.id').as('refunded_by'),
      (eb) =>
        eb
          .selectFrom('transfers as v')
          .select(sql<number>`coalesce(sum(v.amount), 0)::int8`.as('s'))
          .whereRef('v.reverses', '=', 't.id')
          .as('reversed'),
    ])
    .where('t.id', '=', id)
    .where('t.kind', '<>', 'sweep')
    .executeTakeFirst();
}

/**
 * Locks a transfer row so that concurrent refunds of it take turns; the refund that waited then
 * sees the first one's refund (a new statement, a new snapshot under READ COMMITTED).
 */
export async function lockTransfer(trx: Trx, id: string) {
  const row = await trx
    .selectFrom('transfers as t')
    .select('t.id')
    .where('t.id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return undefined;
  const found = await findTransfer(trx, id);
  return found && { ...found, reversed: Number(found.reversed ?? 0) };
}

export type TransferRow = Omit<NonNullable<Awaited<ReturnType<typeof findTransfer>>>, 'reversed'> & {
  reversed: number;
};

/** What the provider caused in the ledger, for payment's reconciliation. */
export function providerTotals(db: Db) {
  return db
    .selectFrom('transfers')
    .select([
      sql<number>`count(*) filter (where kind = 'purchase')::int8`.as('purchaseCount'),
      sql<number>`coalesce(sum(amount) filter (where kind = 'purchase'), 0)::int8`.as('purchasePoints'),
      sql<number>`count(*) filter (where kind = 'reversal')::int8`.as('reversalCount'),
      sql<number>`coalesce(sum(amount) filter (where kind = 'reversal'), 0)::int8`.as('reversalPoints'),
    ])
    .where('kind', 'in', ['purchase', 'reversal'])
    .executeTakeFirstOrThrow();
}
export type { TransferKindColumn };

// ---------------------------------------------------------------- payments

/** Records a payment once; returns false when the payment id is already known. */
const insertPaymentStatement = statement(
  'point.insertPayment',
  (db: Kysely<PointDatabase>, a: { payment_id: string; user_id: string; amount: number; transfer_id: string }) =>
    db
      .insertInto('payments')
      .values(a)
      .onConflict((oc) => oc.column('payment_id').doNothing())
      .returning('payment_id'),
  { payment_id: 'p1', user_id: 'u1', amount: 100, transfer_id: 't1' },
);

export async function insertPayment(
  trx: Trx,
  p: { paymentId: string; userId: string; amount: number; transferId: string },
) {
  const row = await insertPaymentStatement.first(trx, {
    payment_id: p.paymentId,
    user_id: p.userId,
    amount: p.amount,
    transfer_id: p.transferId,
  });
  return row !== undefined;
}

export function findPayment(db: Db, paymentId: string) {
  return db
    .selectFrom('payments')
    .select(['user_id', 'amount', 'transfer_id'])
    .where('payment_id', '=', paymentId)
    .executeTakeFirst();
}

// ---------------------------------------------------------------- history

/** A page of a user's history, newest first: one index range scan. */
const historyPageStatement = statement(
  'point.historyPage',
  (db: Kysely<PointDatabase>, a: { userId: string; rows: number; beforeId?: number | undefined }) => {
    let query = db
      .selectFrom('entries')
      .select([
        'id',
        'transfer_id',
        'kind',
        'amount',
        'fee',
        'counterparty_id',
        'reason',
        'reference',
        'refund_of',
        'created_at',
      ])
      .where('user_id', '=', a.userId)
      .orderBy('id', 'desc')
      .limit(a.rows);
    if (a.beforeId !== undefined) query = query.where('id', '<', a.beforeId);
    return query;
  },
  { userId: 'u1', rows: 21, beforeId: 100 },
);

export function historyPage(db: Db, userId: string, limit: number, beforeId: number | undefined) {
  return historyPageStatement.rows(db, { userId, rows: limit + 1, beforeId });
}
