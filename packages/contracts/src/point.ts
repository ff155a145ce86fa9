import { type Static, Type } from 'typebox';
import { CursorQuery, Id, IdempotencyHeaders, Page, Text } from './common.ts';
import { route } from './routes.ts';

/**
 * The point service: one wallet per user on a double-entry ledger. Points are integers.
 * Every write needs an `Idempotency-Key` header (`IdempotencyKey`, one rule everywhere): a retry with the
 * same key and body gets the stored answer; the same key with another body gets 422.
 */

/** The most points one purchase or spend may move: keeps `amount × feeBps` exact in a double. */
export const MAX_AMOUNT = 1_000_000_000;

export const Points = Type.Integer({ minimum: 1, maximum: MAX_AMOUNT });

export const PurchaseBody = Type.Object(
  {
    userId: Id,
    /** The payment provider's id of the settled payment: a purchase is recorded once per payment id. */
    paymentId: Text({ minLength: 1, maxLength: 100 }),
    amount: Points,
    /** The provider's reference shown in the buyer's history (e.g. the Checkout Session `cs_…`). */
    reference: Type.Optional(Text({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false },
);
export type PurchaseBody = Static<typeof PurchaseBody>;

export const Purchase = Type.Object({
  transferId: Id,
  userId: Id,
  amount: Type.Integer(),
  /** The buyer's balance right after the purchase. */
  balance: Type.Integer(),
});
export type Purchase = Static<typeof Purchase>;

export const SpendBody = Type.Object(
  {
    fromUserId: Id,
    toUserId: Id,
    amount: Points,
    /** Why, for the history: e.g. `stamp`. */
    reason: Text({ minLength: 1, maxLength: 50 }),
    /** The caller's own id of what was bought, e.g. a sent stamp. */
    reference: Type.Optional(Text({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
export type SpendBody = Static<typeof SpendBody>;

export const Spend = Type.Object({
  transferId: Id,
  fromUserId: Id,
  toUserId: Id,
  amount: Type.Integer(),
  /** The platform's share: floor(amount × platformFeeBps / 10000); the payee receives amount − fee. */
  fee: Type.Integer(),
  /** The payer's balance right after the spend. */
  balance: Type.Integer(),
});
export type Spend = Static<typeof Spend>;

export const TransferKind = Type.Union([
  Type.Literal('purchase'),
  Type.Literal('spend'),
  Type.Literal('refund'),
  /** A purchase taken back because the provider refunded or lost a dispute over the payment. */
  Type.Literal('reversal'),
  /** An admin collecting an open debt from the wallet. */
  Type.Literal('debt_collection'),
  /** An admin writing an open debt off (the platform bears the loss). */
  Type.Literal('debt_write_off'),
]);
export type TransferKind = Static<typeof TransferKind>;

export const TransferParams = Type.Object({ id: Id });

export const Transfer = Type.Object({
  id: Id,
  kind: TransferKind,
  /** Who paid: the spender; for a refund, the user whose points were taken back; null for purchases. */
  fromUserId: Type.Union([Id, Type.Null()]),
  /** Who received: the buyer, the payee, or the refunded payer; null when a refunded purchase returns to the provider. */
  toUserId: Type.Union([Id, Type.Null()]),
  amount: Type.Integer(),
  fee: Type.Integer(),
  reason: Type.Union([Type.String(), Type.Null()]),
  reference: Type.Union([Type.String(), Type.Null()]),
  paymentId: Type.Union([Type.String(), Type.Null()]),
  /** For a refund: the transfer it reverses. */
  refundOf: Type.Union([Id, Type.Null()]),
  /** The refund that reversed this transfer, if any. */
  refundedBy: Type.Union([Id, Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});
export type Transfer = Static<typeof Transfer>;

export const Wallet = Type.Object({
  userId: Id,
  balance: Type.Integer(),
  /** Points owed from refunded or disputed purchases already spent; spends are refused while above 0. */
  debt: Type.Integer({ minimum: 0 }),
});
export type Wallet = Static<typeof Wallet>;

export const WalletParams = Type.Object({ userId: Id });

export const HistoryEntry = Type.Object({
  transferId: Id,
  /** `receive` is the payee's side of a spend. */
  kind: Type.Union([TransferKind, Type.Literal('receive')]),
  /** Signed change of this wallet: positive in, negative out. */
  amount: Type.Integer(),
  fee: Type.Integer(),
  counterpartyId: Type.Union([Id, Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  reference: Type.Union([Type.String(), Type.Null()]),
  refundOf: Type.Union([Id, Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});
export type HistoryEntry = Static<typeof HistoryEntry>;

export const HistoryQuery = CursorQuery;
export const HistoryPage = Page(HistoryEntry);
export type HistoryPage = Static<typeof HistoryPage>;

/**
 * Payment-only: bring the points reversed from a purchase up to `total` (refunds and disputes so far,
 * cumulative, so events applied in any order and any number of times end in the same state). What the
 * wallet cannot give back becomes the user's debt.
 */
export const ReversalBody = Type.Object(
  {
    total: Points,
    cause: Type.Union([Type.Literal('refund'), Type.Literal('dispute')]),
    /** The provider's id of the refund or dispute (`re_…`, `dp_…`), shown in the history. */
    reference: Text({ minLength: 1, maxLength: 255 }),
  },
  { additionalProperties: false },
);
export type ReversalBody = Static<typeof ReversalBody>;

export const Reversal = Type.Object({
  purchaseId: Id,
  userId: Id,
  /** This step's transfer; null when `total` was already reached (nothing moved). */
  transferId: Type.Union([Id, Type.Null()]),
  /** Points reversed from the purchase so far, this step included. */
  reversed: Type.Integer(),
  /** Taken from the wallet in this step. */
  taken: Type.Integer(),
  /** Recorded as debt in this step (the part already spent). */
  debt: Type.Integer(),
});
export type Reversal = Static<typeof Reversal>;

export const SettleDebtBody = Type.Object(
  {
    /** `collect`: take what the wallet holds now (up to the debt); `write_off`: the platform bears the rest. */
    method: Type.Union([Type.Literal('collect'), Type.Literal('write_off')]),
  },
  { additionalProperties: false },
);
export type SettleDebtBody = Static<typeof SettleDebtBody>;

export const DebtSettlement = Type.Object({
  userId: Id,
  /** Points moved in this settlement (collected from the wallet, or written off). */
  settled: Type.Integer(),
  /** The debt left open. */
  debt: Type.Integer(),
  balance: Type.Integer(),
});
export type DebtSettlement = Static<typeof DebtSettlement>;

/** Totals of what the provider caused in the ledger: compared with payment's records. */
export const ProviderTotals = Type.Object({
  purchases: Type.Object({ count: Type.Integer(), points: Type.Integer() }),
  reversals: Type.Object({ count: Type.Integer(), points: Type.Integer() }),
});
export type ProviderTotals = Static<typeof ProviderTotals>;

export const Violation = Type.Object({ invariant: Type.String(), detail: Type.String() });
export type Violation = Static<typeof Violation>;

export const Reconciliation = Type.Object({
  ok: Type.Boolean(),
  checkedAt: Type.String({ format: 'date-time' }),
  violations: Type.Array(Violation),
});
export type Reconciliation = Static<typeof Reconciliation>;

/** The internal API other services call (the kit generates `clients.point` from it). */
export const routes = {
  spend: route({ method: 'POST', path: '/spends', headers: IdempotencyHeaders, body: SpendBody, response: Spend }),
  purchase: route({
    method: 'POST',
    path: '/purchases',
    headers: IdempotencyHeaders,
    body: PurchaseBody,
    response: Purchase,
  }),
  reverse: route({
    method: 'POST',
    path: '/transfers/:id/reversals',
    params: TransferParams,
    headers: IdempotencyHeaders,
    body: ReversalBody,
    response: Reversal,
  }),
  settleDebt: route({
    method: 'POST',
    path: '/wallets/:userId/debt/settlements',
    params: WalletParams,
    headers: IdempotencyHeaders,
    body: SettleDebtBody,
    response: DebtSettlement,
  }),
  refund: route({
    method: 'POST',
    path: '/transfers/:id/refund',
    params: TransferParams,
    headers: IdempotencyHeaders,
    response: Transfer,
  }),
  transfer: route({ method: 'GET', path: '/transfers/:id', params: TransferParams, response: Transfer }),
  wallet: route({ method: 'GET', path: '/wallets/:userId', params: WalletParams, response: Wallet }),
  history: route({
    method: 'GET',
    path: '/wallets/:userId/history',
    params: WalletParams,
    query: HistoryQuery,
    response: HistoryPage,
  }),
  providerTotals: route({ method: 'GET', path: '/admin/provider-totals', response: ProviderTotals }),
  reconciliation: route({ method: 'GET', path: '/admin/reconciliation', response: Reconciliation }),
};
