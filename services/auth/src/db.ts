import type { ProcessedEventsDatabase } from '@livehouse/kit';
import type { ColumnType, Generated, Selectable } from 'kysely';

export interface AccountsTable {
  id: string;
  handle: string;
  /** As given at sign-up; unique case-insensitively (index on lower(email)). */
  email: string;
  password_hash: string;
  roles: ColumnType<string[], string[] | undefined, string[]>;
  created_at: ColumnType<Date, never, never>;
}

/** A refresh-token family: one login, followed through every rotation until logout or reuse. */
export interface SessionsTable {
  id: string;
  account_id: string;
  created_at: ColumnType<Date, never, never>;
  revoked_at: ColumnType<Date | null, never, Date>;
}

export interface RefreshTokensTable {
  /** sha256 of the opaque token, hex: the token itself is never stored. */
  token_hash: string;
  session_id: string;
  expires_at: Date;
  used_at: ColumnType<Date | null, never, Date>;
  created_at: Generated<Date>;
}

/** Where an account logged in successfully (hashed), for the login limiter. */
export interface LoginAddressesTable {
  account_id: string;
  address_hash: string;
  last_success_at: ColumnType<Date, Date | undefined, Date>;
}

export interface AuthDatabase extends ProcessedEventsDatabase {
  accounts: AccountsTable;
  login_addresses: LoginAddressesTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
}

export type AccountRow = Omit<Selectable<AccountsTable>, 'password_hash'>;
