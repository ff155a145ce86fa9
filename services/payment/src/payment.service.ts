import type { payment } from '@livehouse/contracts';
import { AppError, type Caller, type Clients, derivedIdempotencyKey } from '@livehouse/kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import Stripe from 'stripe';
import type { PaymentDatabase } from './db.ts';
import * as repo from './payment.repository.ts';

export interface PaymentsOptions {
  db: Kysely<PaymentDatabase>;
  stripe: Stripe;
  point: Clients['point'];
  packs: readonly payment.Pack[];
  successUrl: string;
  cancelUrl: string;
  webhookSecret: string;
  toleranceSeconds: number;
  log: FastifyBaseLogger;
}

type User = NonNullable<Caller['user']>;

function toCheckout(row: repo.CheckoutRow): payment.Checkout {
  return {
    id: row.id,
    userId: row.user_id,
    packId: row.pack_id,
    points: Number(row.points),
    price: Number(row.price),
    currency: row.currency,
    status: row.status,
    url: row.status === 'open' ? row.url : null,
    transferId: row.transfer_id,
    createdAt: row.created_at.toISOString(),
  };
}

const idOf = (v: string | { id: string } | null | undefined) => (typeof v === 'string' ? v : (v?.id ?? null));

/** The payment intent an event concerns, for the events this service applies. */
function intentOf(event: Stripe.Event): string | null {
  const object = event.data.object as { payment_intent?: string | { id: string } | null };
  return idOf(object.payment_intent);
}

/** The provider's errors as ours: its outage is a 503, anything else it refused a 502 (never the caller's fault). */
function providerError(err: unknown): AppError {
  if (err instanceof Stripe.errors.StripeConnectionError) {
    return new AppError('service_unavailable', 'the payment provider is unreachable: retry with the same key', {
      cause: err,
    });
  }
  return new AppError('upstream_error', 'the payment provider refused to open a checkout', { cause: err });
}

/**
 * Checkouts and the provider's webhooks. Points are credited only by `apply`, which derives what
 * the ledger must hold for one payment intent from every fact recorded about it (paid; refunded so
 * far; disputed) and asks point for exactly that. Point is idempotent on the payment id and on the
 * cumulative reversal total, so applying twice, concurrently or in any order ends in one state.
 */
export function createPayments(o: PaymentsOptions) {
  const packs = new Map(o.packs.map((p) => [p.id, p]));

  async function createCheckout(user: User, packId: string, key: string): Promise<payment.Checkout> {
    const existing = await repo.findCheckoutByKey(o.db, user.id, key);
    if (existing) {
      if (existing.pack_id !== packId) {
        throw new AppError(
          'idempotency_key_reused',
          'this Idempotency-Key opened a checkout of another pack: use a new key',
        );
      }
      return toCheckout(existing);
    }
    const pack = packs.get(packId);
    if (!pack) throw new AppError('not_found', `no pack ${packId}: GET /me/points/packs lists them`);
    let session: Stripe.Checkout.Session;
    try {
      session = await o.stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: pack.currency,
                unit_amount: pack.price,
                product_data: { name: `${pack.points} points` },
              },
            },
          ],
          client_reference_id: user.id,
          metadata: { userId: user.id, packId: pack.id },
          payment_intent_data: { metadata: { userId: user.id, packId: pack.id } },
          success_url: o.successUrl,
          cancel_url: o.cancelUrl,
        },
        // One attempt, one key: a retry of this request never opens a second session.
        { idempotencyKey: `checkout:${user.id}:${key}` },
      );
    } catch (err) {
      throw providerError(err);
    }
    const row = await repo.insertCheckout(o.db, {
      id: session.id,
      user_id: user.id,
      request_key: key,
      pack_id: pack.id,
      points: pack.points,
      price: pack.price,
      currency: pack.currency,
      url: session.url,
      status: 'open',
      payment_intent: null,
      transfer_id: null,
    });
    if (!row) throw new AppError('service_unavailable', 'the checkout could not be recorded: retry with the same key');
    return toCheckout(row);
  }

  async function getCheckout(caller: Caller, id: string) {
    const row = await repo.findCheckout(o.db, id);
    const user = caller.user;
    if (!row || (user && user.id !== row.user_id && !user.roles.includes('admin'))) {
      throw new AppError('not_found', 'the checkout was not found');
    }
    return toCheckout(row);
  }

  /**
   * A webhook as the provider sent it. Verified over the raw text before anything is written; then
   * recorded by event id (a redelivery of an applied event does nothing), its fact stored, and applied.
   */
  async function receive(payload: string, signature: string): Promise<payment.WebhookReceipt> {
    let event: Stripe.Event;
    try {
      event = o.stripe.webhooks.constructEvent(payload, signature, o.webhookSecret, o.toleranceSeconds);
    } catch (err) {
      o.log.info({ reason: (err as Error).message }, 'webhook refused');
      throw new AppError(
        'webhook_signature_invalid',
        'the Stripe-Signature header does not match this body, or its timestamp is too old',
      );
    }
    const pi = intentOf(event);
    const fresh = await repo.recordEvent(o.db, { id: event.id, type: event.type, paymentIntent: pi, payload });
    if (!fresh && (await repo.findEvent(o.db, event.id))?.applied_at) {
      return { received: true, duplicate: true, applied: true };
    }
    const fact = await recordFact(event, pi);
    if (fact === 'nothing') await repo.markEventApplied(o.db, event.id);
    if (fact !== 'apply' || !pi) return { received: true, duplicate: !fresh, applied: fact === 'nothing' };
    return { received: true, duplicate: !fresh, applied: await apply(pi) };
  }

  /**
   * Stores what the event says: `apply` when the ledger must follow, `nothing` for events that change
   * nothing in it, `refused` when it contradicts our records (kept unapplied, with the reason, for an admin).
   */
  async function recordFact(event: Stripe.Event, pi: string | null): Promise<'apply' | 'nothing' | 'refused'> {
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded': {
        const session = event.data.object;
        if (session.payment_status !== 'paid' || !pi) return 'nothing';
        const checkout = await repo.findCheckout(o.db, session.id);
        // Only sessions this service opened, for the price it asked: the webhook never decides the points.
        if (!checkout || session.amount_total !== Number(checkout.price) || session.currency !== checkout.currency) {
          await repo.noteEventError(
            o.db,
            event.id,
            checkout ? 'paid amount differs from the pack' : `unknown checkout ${session.id}`,
          );
          return 'refused';
        }
        await repo.markPaid(o.db, checkout.id, pi);
        return 'apply';
      }
      case 'checkout.session.expired':
        await repo.markExpired(o.db, event.data.object.id);
        return 'nothing';
      case 'charge.refunded': {
        const charge = event.data.object;
        if (!pi) return 'nothing';
        const latest = charge.refunds?.data?.[0]?.id;
        await repo.recordRefund(o.db, {
          chargeId: charge.id,
          paymentIntent: pi,
          amountRefunded: charge.amount_refunded,
          reference: latest ?? charge.id,
        });
        return 'apply';
      }
      case 'charge.dispute.created': {
        const dispute = event.data.object;
        if (!pi) return 'nothing';
        await repo.recordDispute(o.db, { id: dispute.id, paymentIntent: pi, amount: dispute.amount });
        return 'apply';
      }
      default:
        return 'nothing';
    }
  }

  /**
   * Brings the ledger to what the recorded facts of one payment intent say: the purchase credited
   * once, then reversed up to the refunded and disputed share. True when it holds afterwards.
   */
  async function apply(pi: string): Promise<boolean> {
    const checkout = await repo.findCheckoutByIntent(o.db, pi);
    if (!checkout) {
      await repo.noteError(o.db, pi, 'waiting for checkout.session.completed');
      return false;
    }
    try {
      let transferId = checkout.transfer_id;
      if (!transferId) {
        const purchase = await o.point.purchase({
          body: { userId: checkout.user_id, paymentId: pi, amount: Number(checkout.points), reference: checkout.id },
          headers: { 'idempotency-key': derivedIdempotencyKey('purchase', pi) },
        });
        transferId = purchase.transferId;
        await repo.setTransfer(o.db, checkout.id, transferId);
      }
      const back = await repo.takenBack(o.db, pi);
      const price = Number(checkout.price);
      const money = Math.min(price, back.refunded + back.disputed);
      // Points in proportion to the money returned, rounded down: a full refund takes back every point.
      const total = Math.floor((Number(checkout.points) * money) / price);
      if (total > 0) {
        const cause = back.disputed > 0 ? 'dispute' : 'refund';
        const reference = (cause === 'dispute' ? back.disputeReference : back.refundReference) ?? pi;
        const reversal = await o.point.reverse({
          params: { id: transferId },
          body: { total, cause, reference },
          headers: { 'idempotency-key': derivedIdempotencyKey('reversal', pi, String(total), reference) },
        });
        await repo.recordReversal(o.db, {
          paymentIntent: pi,
          total,
          transferId: reversal.transferId,
          reference,
          cause,
        });
      }
      await repo.markApplied(o.db, pi);
      return true;
    } catch (err) {
      await repo.noteError(o.db, pi, err instanceof AppError ? `${err.code}: ${err.message}` : 'unexpected error');
      // A refusal stays recorded for an admin (the reconciliation report lists it); an outage is the
      // provider's cue to deliver again.
      if (err instanceof AppError && err.status < 500) return false;
      throw err;
    }
  }

  /** The provider side of reconciliation: payment's records against the ledger's totals. */
  async function reconcile(): Promise<payment.ProviderReconciliation> {
    const [ours, ledger, unapplied] = await Promise.all([
      repo.providerSide(o.db),
      o.point.providerTotals(),
      repo.unappliedEvents(o.db),
    ]);
    const violations: { invariant: string; detail: string }[] = [];
    const add = (invariant: string, detail: string) => violations.push({ invariant, detail });
    if (ours.paidCount !== ledger.purchases.count || ours.paidPoints !== ledger.purchases.points) {
      add(
        'credited_equals_paid',
        `${ours.paidCount} paid checkouts of ${ours.paidPoints} points, ${ledger.purchases.count} purchases of ${ledger.purchases.points} in the ledger`,
      );
    }
    if (ours.uncredited > 0) add('credited_equals_paid', `${ours.uncredited} paid checkouts are not credited yet`);
    if (ours.reversalCount !== ledger.reversals.count || ours.reversalPoints !== ledger.reversals.points) {
      add(
        'reversals_match_events',
        `${ours.reversalCount} reversals of ${ours.reversalPoints} points recorded, ${ledger.reversals.count} of ${ledger.reversals.points} in the ledger`,
      );
    }
    if (ours.causeless > 0)
      add('reversals_match_events', `${ours.causeless} reversals have no refund or dispute event`);
    if (unapplied.length > 0) add('events_applied', `${unapplied.length} webhook events received but not applied`);
    return {
      ok: violations.length === 0,
      checkedAt: new Date().toISOString(),
      paidCheckouts: { count: ours.paidCount, points: ours.paidPoints },
      creditedPurchases: ledger.purchases,
      reversals: { count: ours.reversalCount, points: ours.reversalPoints },
      unappliedEvents: unapplied.map((e) => ({
        id: e.id,
        type: e.type,
        receivedAt: e.received_at.toISOString(),
        error: e.error,
      })),
      violations,
    };
  }

  return { packs: () => [...packs.values()], createCheckout, getCheckout, receive, apply, reconcile };
}

export type Payments = ReturnType<typeof createPayments>;
