import { type Kysely, sql } from 'kysely';
import type { CheckoutsTable, PaymentDatabase } from './db.ts';

type Db = Kysely<PaymentDatabase>;

export type CheckoutRow = Omit<CheckoutsTable, 'created_at'> & { created_at: Date };

export function findCheckoutByKey(db: Db, userId: string, requestKey: string) {
  return db
    .selectFrom('checkouts')
    .selectAll()
    .where('user_id', '=', userId)
    .where('request_key', '=', requestKey)
    .executeTakeFirst();
}

export function findCheckout(db: Db, id: string) {
  return db.selectFrom('checkouts').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findCheckoutByIntent(db: Db, paymentIntent: string) {
  return db.selectFrom('checkouts').selectAll().where('payment_intent', '=', paymentIntent).executeTakeFirst();
}

/** Records a session once per (user, key); returns the stored one when a concurrent retry won. */
export async function insertCheckout(db: Db, row: Omit<CheckoutsTable, 'created_at'>) {
  const inserted = await db
    .insertInto('checkouts')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
  return inserted ?? findCheckoutByKey(db, row.user_id, row.request_key);
}

/** The session was paid: remember its payment intent (once; a second, different one is a conflict). */
export async function markPaid(db: Db, id: string, paymentIntent: string) {
  await db
    .updateTable('checkouts')
    .set({ status: 'paid', payment_intent: paymentIntent, url: null })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('payment_intent', 'is', null), eb('payment_intent', '=', paymentIntent)]))
    .execute();
}

export async function markExpired(db: Db, id: string) {
  await db
    .updateTable('checkouts')
    .set({ status: 'expired', url: null })
    .where('id', '=', id)
    .where('status', '=', 'open')
    .execute();
}

export async function setTransfer(db: Db, id: string, transferId: string) {
  await db.updateTable('checkouts').set({ transfer_id: transferId }).where('id', '=', id).execute();
}

/** Records a verified event once by its id: false when it was already recorded. */
export async function recordEvent(
  db: Db,
  event: { id: string; type: string; paymentIntent: string | null; payload: string },
) {
  const row = await db
    .insertInto('webhook_events')
    .values({
      id: event.id,
      type: event.type,
      payment_intent: event.paymentIntent,
      payload: event.payload,
      applied_at: null,
      error: null,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export function findEvent(db: Db, id: string) {
  return db.selectFrom('webhook_events').select(['id', 'applied_at']).where('id', '=', id).executeTakeFirst();
}

/** Every event of a payment intent is applied once the ledger reflects all of them. */
export async function markApplied(db: Db, paymentIntent: string) {
  await db
    .updateTable('webhook_events')
    .set({ applied_at: new Date(), error: null })
    .where('payment_intent', '=', paymentIntent)
    .where('applied_at', 'is', null)
    .execute();
}

export async function markEventApplied(db: Db, id: string) {
  await db.updateTable('webhook_events').set({ applied_at: new Date(), error: null }).where('id', '=', id).execute();
}

export async function noteEventError(db: Db, id: string, error: string) {
  await db.updateTable('webhook_events').set({ error }).where('id', '=', id).execute();
}

export async function noteError(db: Db, paymentIntent: string, error: string) {
  await db
    .updateTable('webhook_events')
    .set({ error: error.slice(0, 500) })
    .where('payment_intent', '=', paymentIntent)
    .where('applied_at', 'is', null)
    .execute();
}

/** `amount_refunded` only grows: an older event arriving late cannot shrink it. */
export async function recordRefund(
  db: Db,
  r: { chargeId: string; paymentIntent: string; amountRefunded: number; reference: string },
) {
  await db
    .insertInto('refunds')
    .values({
      charge_id: r.chargeId,
      payment_intent: r.paymentIntent,
      amount_refunded: r.amountRefunded,
      reference: r.reference,
    })
    .onConflict((oc) =>
      oc.column('charge_id').doUpdateSet((eb) => ({
        amount_refunded: sql<number>`greatest(${eb.ref('refunds.amount_refunded')}, ${eb.ref('excluded.amount_refunded')})`,
        reference: sql<string>`case when ${eb.ref('excluded.amount_refunded')} > ${eb.ref('refunds.amount_refunded')} then ${eb.ref('excluded.reference')} else ${eb.ref('refunds.reference')} end`,
      })),
    )
    .execute();
}

export async function recordDispute(db: Db, d: { id: string; paymentIntent: string; amount: number }) {
  await db
    .insertInto('disputes')
    .values({ id: d.id, payment_intent: d.paymentIntent, amount: d.amount })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** Money refunded and disputed for one payment intent, and the latest references of each. */
export async function takenBack(db: Db, paymentIntent: string) {
  const [refunds, disputes] = await Promise.all([
    db
      .selectFrom('refunds')
      .select(['amount_refunded', 'reference'])
      .where('payment_intent', '=', paymentIntent)
      .execute(),
    db
      .selectFrom('disputes')
      .select(['id', 'amount'])
      .where('payment_intent', '=', paymentIntent)
      .orderBy('id')
      .execute(),
  ]);
  return {
    refunded: refunds.reduce((s, r) => s + Number(r.amount_refunded), 0),
    disputed: disputes.reduce((s, d) => s + Number(d.amount), 0),
    refundReference: refunds.at(-1)?.reference,
    disputeReference: disputes.at(-1)?.id,
  };
}

export async function recordReversal(
  db: Db,
  r: {
    paymentIntent: string;
    total: number;
    transferId: string | null;
    reference: string;
    cause: 'refund' | 'dispute';
  },
) {
  await db
    .insertInto('reversals')
    .values({
      payment_intent: r.paymentIntent,
      total: r.total,
      transfer_id: r.transferId,
      reference: r.reference,
      cause: r.cause,
    })
    .onConflict((oc) => oc.columns(['payment_intent', 'total']).doNothing())
    .execute();
}

// ---------------------------------------------------------------- reconciliation

export async function providerSide(db: Db) {
  const row = await db
    .selectNoFrom((eb) => [
      eb
        .selectFrom('checkouts')
        .select(sql<number>`count(*)::int8`.as('n'))
        .where('status', '=', 'paid')
        .as('paidCount'),
      eb
        .selectFrom('checkouts')
        .select(sql<number>`coalesce(sum(points), 0)::int8`.as('s'))
        .where('status', '=', 'paid')
        .as('paidPoints'),
      eb
        .selectFrom('checkouts')
        .select(sql<number>`count(*)::int8`.as('n'))
        .where('status', '=', 'paid')
        .where('transfer_id', 'is', null)
        .as('uncredited'),
      // Reversals with a transfer (steps that moved points), and the points of each step.
      eb
        .selectFrom('reversals')
        .select(sql<number>`count(*)::int8`.as('n'))
        .where('transfer_id', 'is not', null)
        .as('reversalCount'),
      eb
        .selectFrom((q) =>
          q
            .selectFrom('reversals')
            .select(['payment_intent', sql<number>`max(total)`.as('total')])
            .groupBy('payment_intent')
            .as('r'),
        )
        .select(sql<number>`coalesce(sum(r.total), 0)::int8`.as('s'))
        .as('reversalPoints'),
      // A reversal whose payment intent has no refund or dispute recorded: it has no provider cause.
      eb
        .selectFrom('reversals as v')
        .select(sql<number>`count(*)::int8`.as('n'))
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('refunds as f')
                .select('f.charge_id as id')
                .whereRef('f.payment_intent', '=', 'v.payment_intent')
                .union(
                  selectFrom('disputes as d').select('d.id').whereRef('d.payment_intent', '=', 'v.payment_intent'),
                ),
            ),
          ),
        )
        .as('causeless'),
    ])
    .executeTakeFirstOrThrow();
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v ?? 0)])) as Record<
    keyof typeof row,
    number
  >;
}

export function unappliedEvents(db: Db, limit = 100) {
  return db
    .selectFrom('webhook_events')
    .select(['id', 'type', 'received_at', 'error'])
    .where('applied_at', 'is', null)
    .orderBy('received_at')
    .limit(limit)
    .execute();
}
