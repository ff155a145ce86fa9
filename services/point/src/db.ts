import type { OutboxDatabase } from '@livehouse/kit';
import type { ColumnType, Generated } from 'kysely';

/**
 * One row per (owner, shard). `owner` is a user id or a system account (`provider`, `revenue`).
 * Shard 0 is a user's main account: the only one debited. Shards 1..N receive credits (see ledger.service.ts).
 */
export interface AccountsTable {
  owner: string;
  shard: number;
  /** System accounts may go negative (the provider holds minus every point ever bought). */
  system: boolean;
  balance: number;
}

export type TransferKindColumn =
  | 'purchase'
  | 'spend'
  | 'refund'
  | 'sweep'
  | 'reversal'
  | 'debt_collection'
  | 'debt_write_off';

/** Append-only: one row per movement of points; its postings sum to zero. */
export interface TransfersTable {
  id: string;
  kind: TransferKindColumn;
  from_user: string | null;
  to_user: string | null;
  amount: number;
  fee: number;
  reason: string | null;
  reference: string | null;
  payment_id: string | null;
  refund_of: string | null;
  /** For a reversal: the purchase it takes back (in part; several reversals may follow one purchase). */
  reverses: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
}

/** Append-only: a signed change of one account (credit > 0, debit < 0). */
export interface PostingsTable {
  id: Generated<number>;
  transfer_id: string;
  owner: string;
  shard: number;
  amount: number;
}

/** Append-only: a user's history, one row per (transfer, user) with the net change of their wallet. */
export interface EntriesTable {
  id: Generated<number>;
  user_id: string;
  transfer_id: string;
  kind: 'purchase' | 'spend' | 'receive' | 'refund' | 'reversal' | 'debt_collection' | 'debt_write_off';
  amount: number;
  fee: number;
  counterparty_id: string | null;
  reason: string | null;
  reference: string | null;
  refund_of: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
}

/** The payment provider's side: every payment it settled (through the payment service), once. */
export interface PaymentsTable {
  payment_id: string;
  user_id: string;
  amount: number;
  transfer_id: string;
  created_at: ColumnType<Date, Date | undefined, never>;
}

/** Stored answers of writes, per caller and Idempotency-Key. */
export interface IdempotencyKeysTable {
  scope: string;
  key: string;
  request_hash: string;
  status: number | null;
  response: ColumnType<unknown, string | null, string>;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface PointDatabase extends OutboxDatabase {
  accounts: AccountsTable;
  transfers: TransfersTable;
  postings: PostingsTable;
  entries: EntriesTable;
  payments: PaymentsTable;
  idempotency_keys: IdempotencyKeysTable;
}
