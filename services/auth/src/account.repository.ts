import type { auth, Role } from '@livehouse/contracts';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { AccountRow, AuthDatabase } from './db.ts';

type Db = Kysely<AuthDatabase> | Transaction<AuthDatabase>;

const accountColumns = [
  'accounts.id',
  'accounts.handle',
  'accounts.email',
  'accounts.roles',
  'accounts.created_at',
] as const;

export function toAccount(row: AccountRow): auth.Account {
  return {
    id: row.id,
    handle: row.handle,
    email: row.email,
    roles: row.roles as Role[],
    createdAt: row.created_at.toISOString(),
  };
}

/** Inserts the account; a duplicate handle or email throws a unique violation naming its constraint. */
export function insertAccount(db: Db, a: { id: string; handle: string; email: string; passwordHash: string }) {
  return db
    .insertInto('accounts')
    .values({ id: a.id, handle: a.handle, email: a.email, password_hash: a.passwordHash })
    .returning(accountColumns)
    .executeTakeFirstOrThrow();
}

export async function deleteAccount(db: Db, id: string) {
  await db.deleteFrom('accounts').where('id', '=', id).execute();
}

export function findAccount(db: Db, id: string) {
  return db.selectFrom('accounts').select(accountColumns).where('id', '=', id).executeTakeFirst();
}

/** By handle or email (case-insensitively): one statement, one index probe each. */
export function findAccountByLogin(db: Db, login: string) {
  return db
    .selectFrom('accounts')
    .select([...accountColumns, 'accounts.password_hash'])
    .where((eb) =>
      eb.or([
        eb('handle', '=', eb.fn<string>('lower', [eb.val(login)])),
        eb(eb.fn<string>('lower', ['email']), '=', eb.fn<string>('lower', [eb.val(login)])),
      ]),
    )
    .executeTakeFirst();
}

/** Adds the role unless the account has it already; undefined for an unknown account. */
export function grantRole(db: Db, id: string, role: Role) {
  return db
    .updateTable('accounts')
    .set({
      roles: sql<string[]>`case when ${role} = any(roles) then roles else array_append(roles, ${role}::text) end`,
    })
    .where('id', '=', id)
    .returning(accountColumns)
    .executeTakeFirst();
}

/** A new family with its first refresh token, in one statement. */
export async function insertSession(
  db: Db,
  s: { sessionId: string; accountId: string; tokenHash: string; expiresAt: Date },
) {
  await db
    .with('s', (q) => q.insertInto('sessions').values({ id: s.sessionId, account_id: s.accountId }).returning('id'))
    .insertInto('refresh_tokens')
    .columns(['token_hash', 'session_id', 'expires_at'])
    .expression((eb) =>
      eb
        .selectFrom('s')
        .select([
          sql<string>`${s.tokenHash}::text`.as('token_hash'),
          's.id',
          sql<Date>`${s.expiresAt}::timestamptz`.as('expires_at'),
        ]),
    )
    .execute();
}

/**
 * Marks the token used if it is unused, unexpired and its family alive, and returns its family and
 * account. Conditional on `used_at is null`, so of two concurrent rotations only one gets a row.
 */
export function useRefreshToken(trx: Transaction<AuthDatabase>, tokenHash: string) {
  return trx
    .updateTable('refresh_tokens')
    .from(['sessions', 'accounts'])
    .set({ used_at: new Date() })
    .whereRef('sessions.id', '=', 'refresh_tokens.session_id')
    .whereRef('accounts.id', '=', 'sessions.account_id')
    .where('refresh_tokens.token_hash', '=', tokenHash)
    .where('refresh_tokens.used_at', 'is', null)
    .where('refresh_tokens.expires_at', '>', sql<Date>`now()`)
    .where('sessions.revoked_at', 'is', null)
    .returning(['sessions.id as session_id', ...accountColumns])
    .executeTakeFirst();
}

export async function insertRefreshToken(
  trx: Transaction<AuthDatabase>,
  t: { sessionId: string; tokenHash: string; expiresAt: Date },
) {
  await trx
    .insertInto('refresh_tokens')
    .values({ token_hash: t.tokenHash, session_id: t.sessionId, expires_at: t.expiresAt })
    .execute();
}

/** If the token was already used, revokes its whole family and returns true (reuse). */
export async function revokeFamilyOfUsedToken(db: Db, tokenHash: string) {
  const row = await db
    .updateTable('sessions')
    .set({ revoked_at: sql<Date>`coalesce(revoked_at, now())` })
    .where('id', '=', (eb) =>
      eb
        .selectFrom('refresh_tokens')
        .select('session_id')
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is not', null),
    )
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/** Revokes the family of the token, whatever the token's state; unknown tokens change nothing. */
export async function revokeFamilyOfToken(db: Db, tokenHash: string) {
  await db
    .updateTable('sessions')
    .set({ revoked_at: sql<Date>`now()` })
    .where('id', '=', (eb) => eb.selectFrom('refresh_tokens').select('session_id').where('token_hash', '=', tokenHash))
    .where('revoked_at', 'is', null)
    .execute();
}

/** Remembers that the account logged in from this (hashed) address. */
export async function rememberLoginAddress(db: Db, accountId: string, addressHash: string) {
  await db
    .insertInto('login_addresses')
    .values({ account_id: accountId, address_hash: addressHash, last_success_at: new Date() })
    .onConflict((oc) => oc.columns(['account_id', 'address_hash']).doUpdateSet({ last_success_at: new Date() }))
    .execute();
}

/** Whether the account logged in from this (hashed) address within `maxAgeMs`. */
export async function isFamiliarLoginAddress(db: Db, accountId: string, addressHash: string, maxAgeMs: number) {
  const row = await db
    .selectFrom('login_addresses')
    .select('account_id')
    .where('account_id', '=', accountId)
    .where('address_hash', '=', addressHash)
    .where('last_success_at', '>', new Date(Date.now() - maxAgeMs))
    .executeTakeFirst();
  return row !== undefined;
}
