import type { ColumnType } from 'kysely';

/** One row per Checkout Session this service created: the pack is fixed here, not taken from the webhook. */
export interface CheckoutsTable {
  id: string;
  user_id: string;
  /** The buyer's Idempotency-Key: a retried request gets the same session. */
  request_key: string;
  pack_id: string;
  points: number;
  price: number;
  currency: string;
  url: string | null;
  status: 'open' | 'paid' | 'expired';
  /** Set by `checkout.session.completed`: what refunds and disputes name. */
  payment_intent: string | null;
  /** The ledger's purchase, once credited. */
  transfer_id: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
}

/** Every verified webhook event, once by its id; `applied_at` when the ledger reflects it. */
export interface WebhookEventsTable {
  id: string;
  type: string;
  /** The payment intent it concerns (null for events this service ignores). */
  payment_intent: string | null;
  payload: ColumnType<unknown, string, string>;
  received_at: ColumnType<Date, Date | undefined, never>;
  applied_at: Date | null;
  /** Why it is not applied yet, e.g. `waiting for checkout.session.completed`, or point's answer. */
  error: string | null;
}

/** The provider's refunds, per charge: `amount_refunded` is cumulative, so the largest seen wins. */
export interface RefundsTable {
  charge_id: string;
  payment_intent: string;
  amount_refunded: number;
  /** The latest refund's id (`re_…`) when the event carried it, else the charge id. */
  reference: string;
}

export interface DisputesTable {
  id: string;
  payment_intent: string;
  amount: number;
}

/** Reversals the ledger confirmed, by cumulative total: what reconciliation compares with point. */
export interface ReversalsTable {
  payment_intent: string;
  total: number;
  transfer_id: string | null;
  reference: string;
  cause: 'refund' | 'dispute';
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface PaymentDatabase {
  checkouts: CheckoutsTable;
  webhook_events: WebhookEventsTable;
  refunds: RefundsTable;
  disputes: DisputesTable;
  reversals: ReversalsTable;
}
