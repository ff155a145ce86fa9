import { createHash, randomUUID } from 'node:crypto';
import type { auth, Role } from '@livehouse/contracts';
import {
  AppError,
  type Caller,
  type Clients,
  notFound,
  type RateLimiter,
  rateLimited,
  requireUser,
} from '@livehouse/kit';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import * as repo from './account.repository.ts';
import type { AuthConfig } from './auth.config.ts';
import type { AccountRow, AuthDatabase } from './db.ts';
import type { PasswordHasher } from './passwords.ts';
import { hashRefreshToken, newRefreshToken, type SigningKey, signAccessToken } from './tokens.ts';

export interface AuthDeps {
  db: Kysely<AuthDatabase>;
  user: Clients['user'];
  hasher: PasswordHasher;
  key: SigningKey;
  limiter: RateLimiter;
  config: AuthConfig;
  log: FastifyBaseLogger;
}

const invalidCredentials = () => new AppError('invalid_credentials', 'the login or the password is wrong');

/** Accounts, logins and token rotation; routes only translate HTTP to these calls. */
export function createAuthService(deps: AuthDeps) {
  const { db, config } = deps;

  async function issueSession(row: AccountRow): Promise<auth.Session> {
    const refreshToken = newRefreshToken();
    const refreshTokenExpiresAt = new Date(Date.now() + config.refreshTokenTtlSeconds * 1000);
    await repo.insertSession(db, {
      sessionId: randomUUID(),
      accountId: row.id,
      tokenHash: hashRefreshToken(refreshToken),
      expiresAt: refreshTokenExpiresAt,
    });
    return { account: repo.toAccount(row), tokens: await tokens(row, refreshToken, refreshTokenExpiresAt) };
  }

  async function tokens(row: AccountRow, refreshToken: string, refreshTokenExpiresAt: Date): Promise<auth.Tokens> {
    const exp = Math.floor(Date.now() / 1000) + config.accessTokenTtlSeconds;
    const accessTokenExpiresAt = new Date(exp * 1000);
    const claims = { sub: row.id, handle: row.handle, roles: row.roles as Role[] };
    return {
      tokenType: 'Bearer',
      accessToken: await signAccessToken(deps.key, claims, accessTokenExpiresAt),
      accessTokenExpiresAt: accessTokenExpiresAt.toISOString(),
      refreshToken,
      refreshTokenExpiresAt: refreshTokenExpiresAt.toISOString(),
    };
  }

  async function hit(key: string, limit: AuthConfig['loginRateLimit']['perIp'], what = 'login attempts') {
    const result = await deps.limiter.hit(key, limit);
    if (!result.allowed) throw rateLimited(result, what);
  }

  return {
    /**
     * Creates the account, then its profile in user (never inside a transaction). If user refuses,
     * the account is deleted again and user's error is returned.
     */
    async signUp(body: auth.SignUpBody, clientIp: string | undefined): Promise<auth.Session> {
      if (clientIp) await hit(`signup:ip:${clientIp}`, config.signUpRateLimit.perIp, 'sign-ups from your address');
      const passwordHash = await deps.hasher.hash(body.password);
      const id = randomUUID();
      const row = await repo
        .insertAccount(db, { id, handle: body.handle, email: body.email, passwordHash })
        .catch((err: unknown) => {
          throw duplicateError(err, body) ?? err;
        });
      try {
        await deps.user.create({ params: { id }, body: { handle: body.handle } });
      } catch (err) {
        await repo.deleteAccount(db, id).catch((cleanupErr: unknown) => {
          deps.log.error({ err: cleanupErr, accountId: id }, 'sign-up compensation failed: account without profile');
        });
        throw err;
      }
      return issueSession(row);
    },

    /**
     * Limits before any password work, keyed so that failures slow the one guessing, not the owner (as
     * Microsoft Entra's smart lockout and OWASP advise): per address; per account and address; and per
     * account from unfamiliar addresses only, so a botnet is slowed while the owner's usual address works.
     */
    async logIn(body: auth.LogInBody, clientIp: string | undefined): Promise<auth.Session> {
      const limits = config.loginRateLimit;
      if (clientIp) await hit(`login:ip:${clientIp}`, limits.perIp);
      const row = await repo.findAccountByLogin(db, body.login);
      const account = row ? row.id : `unknown:${body.login.toLowerCase()}`;
      const address = createHash('sha256')
        .update(clientIp ?? '-')
        .digest('hex');
      const pairKey = `login:pair:${account}:${address}`;
      await hit(pairKey, limits.perAccountAndIp);
      const spread = await deps.limiter.hit(`login:account:${account}`, limits.perAccount);
      if (!spread.allowed) {
        const familiar =
          row !== undefined &&
          clientIp !== undefined &&
          (await repo.isFamiliarLoginAddress(db, row.id, address, limits.familiarForDays * 86_400_000));
        if (!familiar) throw rateLimited(spread, 'login attempts for this account from new addresses');
      }
      const ok = row
        ? await deps.hasher.verify(row.password_hash, body.password)
        : await deps.hasher.verifyNothing(body.password);
      if (!row || !ok) throw invalidCredentials();
      await deps.limiter.reset(pairKey);
      if (clientIp) await repo.rememberLoginAddress(db, row.id, address);
      const { password_hash: _, ...rest } = row;
      return issueSession(rest);
    },

    /** Rotates the refresh token; a used one revokes its family (someone holds a stolen copy). */
    async refresh(refreshToken: string): Promise<auth.Session> {
      const tokenHash = hashRefreshToken(refreshToken);
      const next = newRefreshToken();
      const nextExpiresAt = new Date(Date.now() + config.refreshTokenTtlSeconds * 1000);
      const used = await db.transaction().execute(async (trx) => {
        const row = await repo.useRefreshToken(trx, tokenHash);
        if (row) {
          await repo.insertRefreshToken(trx, {
            sessionId: row.session_id,
            tokenHash: hashRefreshToken(next),
            expiresAt: nextExpiresAt,
          });
        }
        return row;
      });
      if (!used) {
        if (await repo.revokeFamilyOfUsedToken(db, tokenHash)) {
          throw new AppError('refresh_token_reused', 'this refresh token was already used: the session is revoked');
        }
        throw new AppError('refresh_token_invalid', 'the refresh token is unknown, expired or revoked: log in again');
      }
      const { session_id: _, ...account } = used;
      return { account: repo.toAccount(account), tokens: await tokens(account, next, nextExpiresAt) };
    },

    async logOut(refreshToken: string) {
      await repo.revokeFamilyOfToken(db, hashRefreshToken(refreshToken));
    },

    async getAccount(caller: Caller, id: string): Promise<auth.Account> {
      const me = requireUser(caller);
      if (me.id !== id && !me.roles.includes('admin'))
        throw new AppError('forbidden', 'you may only see your own account');
      const row = await repo.findAccount(db, id);
      if (!row) throw notFound('the account');
      return repo.toAccount(row);
    },

    /** Admins grant any role to anyone; a user may make only themselves a streamer. */
    async grantRole(caller: Caller, id: string, role: Role): Promise<auth.Account> {
      const me = requireUser(caller);
      if (!me.roles.includes('admin') && !(me.id === id && role === 'streamer')) {
        throw new AppError('forbidden', 'only an admin may grant this role; you may make yourself a streamer');
      }
      const row = await repo.grantRole(db, id, role);
      if (!row) throw notFound('the account');
      return repo.toAccount(row);
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;

function duplicateError(err: unknown, body: auth.SignUpBody) {
  const e = err as { code?: string; constraint?: string } | undefined;
  if (e?.code !== '23505') return undefined;
  if (e.constraint === 'accounts_email_key') return new AppError('email_taken', `the email ${body.email} is taken`);
  if (e.constraint === 'accounts_handle_key') return new AppError('handle_taken', `the handle ${body.handle} is taken`);
  return new AppError('conflict', 'the account conflicts with an existing one');
}
