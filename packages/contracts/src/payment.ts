import { type Static, Type } from 'typebox';
import { Id, IdempotencyHeaders } from './common.ts';
import { route } from './routes.ts';

/**
 * The payment service: point packs sold through a payment provider (Stripe). Points are credited
 * only when the provider's signed webhook says a checkout was paid; no client route credits points.
 */

/** A pack's id, as configured (`payment.packs[].id`), e.g. `p500`. */
export const PackId = Type.String({ pattern: '^[a-z0-9_-]{1,32}$' });

export const Pack = Type.Object({
  id: PackId,
  points: Type.Integer({ minimum: 1 }),
  /** Price in the currency's smallest unit (JPY has none: 480 means ¥480). */
  price: Type.Integer({ minimum: 1 }),
  currency: Type.String({ pattern: '^[a-z]{3}$' }),
});
export type Pack = Static<typeof Pack>;

export const Packs = Type.Object({ items: Type.Array(Pack) });
export type Packs = Static<typeof Packs>;

/** Public command `POST /{app,web}/v1/me/points/checkouts` (with an `Idempotency-Key`). */
export const CheckoutBody = Type.Object({ packId: PackId }, { additionalProperties: false });
export type CheckoutBody = Static<typeof CheckoutBody>;

export const CheckoutStatus = Type.Union([
  /** Waiting for the buyer on the provider's page. */
  Type.Literal('open'),
  /** Paid: the points are credited (`transferId`). */
  Type.Literal('paid'),
  /** Not paid in time, or given up. */
  Type.Literal('expired'),
]);
export type CheckoutStatus = Static<typeof CheckoutStatus>;

/** Provider ids: `cs_…` for a Checkout Session. */
export const CheckoutId = Type.String({ pattern: '^cs_[A-Za-z0-9_]{1,250}$' });

export const Checkout = Type.Object({
  id: CheckoutId,
  userId: Id,
  packId: PackId,
  points: Type.Integer(),
  price: Type.Integer(),
  currency: Type.String(),
  status: CheckoutStatus,
  /** Where to send the buyer to pay (the provider's hosted page); null once no longer open. */
  url: Type.Union([Type.String(), Type.Null()]),
  /** The ledger's purchase once paid. */
  transferId: Type.Union([Id, Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});
export type Checkout = Static<typeof Checkout>;

export const CheckoutParams = Type.Object({ id: CheckoutId });

/** The provider side of reconciliation: payment's records against point's ledger. */
export const ProviderReconciliation = Type.Object({
  ok: Type.Boolean(),
  checkedAt: Type.String({ format: 'date-time' }),
  paidCheckouts: Type.Object({ count: Type.Integer(), points: Type.Integer() }),
  creditedPurchases: Type.Object({ count: Type.Integer(), points: Type.Integer() }),
  reversals: Type.Object({ count: Type.Integer(), points: Type.Integer() }),
  /** Webhook events verified and recorded, but not (yet) applied to the ledger. */
  unappliedEvents: Type.Array(
    Type.Object({
      id: Type.String(),
      type: Type.String(),
      receivedAt: Type.String(),
      error: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  violations: Type.Array(Type.Object({ invariant: Type.String(), detail: Type.String() })),
});
export type ProviderReconciliation = Static<typeof ProviderReconciliation>;

/** BFF → payment: a webhook exactly as the provider sent it (the raw body as text, and its signature header). */
export const WebhookForward = Type.Object(
  {
    payload: Type.String({ maxLength: 262_144 }),
    signature: Type.String({ maxLength: 4096 }),
  },
  { additionalProperties: false },
);
export type WebhookForward = Static<typeof WebhookForward>;

export const WebhookReceipt = Type.Object({
  received: Type.Boolean(),
  /** This event id was already recorded and applied: nothing was done again. */
  duplicate: Type.Boolean(),
  /** The ledger reflects the event (false: recorded, waiting, e.g. a refund before its payment's completion). */
  applied: Type.Boolean(),
});
export type WebhookReceipt = Static<typeof WebhookReceipt>;

/** The internal API other services call (the kit generates `clients.payment` from it). */
export const routes = {
  packs: route({ method: 'GET', path: '/packs', response: Packs }),
  openCheckout: route({
    method: 'POST',
    path: '/checkouts',
    headers: IdempotencyHeaders,
    body: CheckoutBody,
    response: Checkout,
  }),
  checkout: route({ method: 'GET', path: '/checkouts/:id', params: CheckoutParams, response: Checkout }),
  stripeWebhook: route({ method: 'POST', path: '/webhooks/stripe', body: WebhookForward, response: WebhookReceipt }),
  reconciliation: route({ method: 'GET', path: '/admin/reconciliation', response: ProviderReconciliation }),
};
