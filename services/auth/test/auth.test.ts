import { randomUUID } from 'node:crypto';
import { auth } from '@livehouse/contracts';
import { generateDevSecrets, startPlatform } from '@livehouse/kit';
import { openTestBackend, type TestPlatform } from '@livehouse/kit/testing';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authService } from '../src/index.ts';
import { countAccounts, dbKinds, newAccount, startAuthPlatform } from './helpers.ts';

describe.each(dbKinds)('auth on %s', (kind) => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startAuthPlatform(kind);
  });
  afterAll(() => p?.close());

  const signUp = (body: unknown) => p.call('auth', 'POST', '/accounts', { body });
  const logIn = (login: string, password: string, headers: Record<string, string> = {}) =>
    p.call('auth', 'POST', '/sessions', { body: { login, password }, headers });
  const refresh = (refreshToken: string) => p.call('auth', 'POST', '/sessions/refresh', { body: { refreshToken } });

  it('when a user signs up, logs in, refreshes and logs out, then each step answers and tokens verify against the JWKS', async () => {
    const body = newAccount();
    const created = await signUp(body);
    expect(created.status).toBe(201);
    expect(created.body.account).toMatchObject({ handle: body.handle, email: body.email, roles: ['viewer'] });
    const id: string = created.body.account.id;
    // sign-up created the profile in user
    const profile = await p.call('user', 'GET', `/users/${id}`);
    expect(profile.body.handle).toBe(body.handle);

    const login = await logIn(body.email.toUpperCase(), body.password);
    expect(login.status).toBe(200);
    expect(login.body.account.id).toBe(id);
    expect(login.headers.get('livehouse-db-queries')).toBe('2');

    const jwks = await p.call('auth', 'GET', '/.well-known/jwks.json');
    expect(jwks.body.keys).toHaveLength(1);
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    const keySet = createLocalJWKSet(jwks.body);
    const verifyOptions = {
      issuer: auth.ACCESS_TOKEN_ISSUER,
      audience: auth.ACCESS_TOKEN_AUDIENCE,
      algorithms: ['ES256'],
    };
    const { payload, protectedHeader } = await jwtVerify(login.body.tokens.accessToken, keySet, verifyOptions);
    expect(protectedHeader.kid).toBe(jwks.body.keys[0].kid);
    expect(payload).toMatchObject({ sub: id, handle: body.handle, roles: ['viewer'] });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(900);
    expect(new Date(login.body.tokens.accessTokenExpiresAt).getTime()).toBe((payload.exp ?? 0) * 1000);

    const refreshed = await refresh(login.body.tokens.refreshToken);
    expect(refreshed.status).toBe(200);
    expect(refreshed.headers.get('livehouse-db-queries')).toBe('2');
    expect(refreshed.body.tokens.refreshToken).not.toBe(login.body.tokens.refreshToken);
    await jwtVerify(refreshed.body.tokens.accessToken, keySet, verifyOptions);

    const logout = await p.call('auth', 'POST', '/sessions/logout', {
      body: { refreshToken: refreshed.body.tokens.refreshToken },
    });
    expect(logout.status).toBe(204);
    const again = await p.call('auth', 'POST', '/sessions/logout', {
      body: { refreshToken: refreshed.body.tokens.refreshToken },
    });
    expect(again.status).toBe(204);
    const afterLogout = await refresh(refreshed.body.tokens.refreshToken);
    expect(afterLogout.status).toBe(401);
    expect(afterLogout.body.error.code).toBe('refresh_token_invalid');
  });

  it('when the password is wrong or the login unknown, then 401 invalid_credentials with the same message', async () => {
    const body = newAccount();
    expect((await signUp(body)).status).toBe(201);
    const wrong = await logIn(body.handle, 'not the password');
    const unknown = await logIn('nobody_here', 'not the password');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid_credentials');
    expect(unknown.body.error.code).toBe('invalid_credentials');
    expect(unknown.body.error.message).toBe(wrong.body.error.message);
  });

  it('when a used refresh token is presented again, then 401 refresh_token_reused and the newest token of its family dies too', async () => {
    const created = await signUp(newAccount());
    const first: string = created.body.tokens.refreshToken;
    const second = await refresh(first);
    expect(second.status).toBe(200);
    const reuse = await refresh(first);
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe('refresh_token_reused');
    const newest = await refresh(second.body.tokens.refreshToken);
    expect(newest.status).toBe(401);
    expect(newest.body.error.code).toBe('refresh_token_invalid');
  });

  it('when an unknown refresh token is presented, then 401 refresh_token_invalid', async () => {
    const res = await refresh('x'.repeat(43));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('refresh_token_invalid');
  });

  it('when two refreshes race with the same token, then exactly one wins', async () => {
    const created = await signUp(newAccount());
    const results = await Promise.all(Array.from({ length: 5 }, () => refresh(created.body.tokens.refreshToken)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(4);
  });

  it('when a handle or an email (in any case) is taken, then 409 handle_taken / email_taken and nothing is written', async () => {
    const body = newAccount();
    expect((await signUp(body)).status).toBe(201);
    const before = await countAccounts(p);
    const sameHandle = await signUp({ ...newAccount(), handle: body.handle });
    expect(sameHandle.status).toBe(409);
    expect(sameHandle.body.error.code).toBe('handle_taken');
    const sameEmail = await signUp({ ...newAccount(), email: body.email.toUpperCase() });
    expect(sameEmail.status).toBe(409);
    expect(sameEmail.body.error.code).toBe('email_taken');
    expect(await countAccounts(p)).toBe(before);
  });

  it('when user refuses the profile (its handle is taken there), then the account is deleted again and 409 passes through', async () => {
    const body = newAccount();
    const squat = await p.call('user', 'PUT', `/users/${randomUUID()}`, { as: 'auth', body: { handle: body.handle } });
    expect(squat.status).toBe(200);
    const before = await countAccounts(p);
    const res = await signUp(body);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('handle_taken');
    expect(await countAccounts(p)).toBe(before);
    expect((await logIn(body.email, body.password)).status).toBe(401);
  });

  it('when one account fails to log in more than 3 times, then 429 rate_limited with Retry-After, even with the right password', async () => {
    const body = newAccount();
    await signUp(body);
    for (let i = 0; i < 3; i++) expect((await logIn(body.handle, 'wrong password')).status).toBe(401);
    const limited = await logIn(body.email, body.password);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('when a successful login follows failures, then the account counter starts over', async () => {
    const body = newAccount();
    await signUp(body);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) expect((await logIn(body.handle, 'wrong password')).status).toBe(401);
      expect((await logIn(body.handle, body.password)).status).toBe(200);
    }
  });

  it('when one IP tries more than 5 logins across accounts, then 429 rate_limited with Retry-After; other IPs still pass', async () => {
    const ip = { [auth.CLIENT_IP_HEADER]: `203.0.113.${kind === 'pglite' ? 1 : 2}` };
    const body = newAccount();
    await signUp(body);
    for (let i = 0; i < 5; i++) expect((await logIn(`someone_${i}`, 'wrong password', ip)).status).toBe(401);
    const limited = await logIn(body.handle, body.password, ip);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const other = await logIn(body.handle, body.password, { [auth.CLIENT_IP_HEADER]: '198.51.100.7' });
    expect(other.status).toBe(200);
  });

  it('when a user makes themselves a streamer, then the role is granted once and appears in the next access token', async () => {
    const created = await signUp(newAccount());
    const id: string = created.body.account.id;
    for (let i = 0; i < 2; i++) {
      const res = await p.call('auth', 'PUT', `/accounts/${id}/roles/streamer`, { user: { id } });
      expect(res.status).toBe(200);
      expect(res.body.roles).toEqual(['viewer', 'streamer']);
    }
    const refreshed = await refresh(created.body.tokens.refreshToken);
    const jwks = createLocalJWKSet((await p.call('auth', 'GET', '/.well-known/jwks.json')).body);
    const { payload } = await jwtVerify(refreshed.body.tokens.accessToken, jwks);
    expect(payload.roles).toEqual(['viewer', 'streamer']);
  });

  it('when a user grants themselves admin or someone else streamer, then 403; an admin may grant any role', async () => {
    const a = (await signUp(newAccount())).body.account.id as string;
    const b = (await signUp(newAccount())).body.account.id as string;
    const selfAdmin = await p.call('auth', 'PUT', `/accounts/${a}/roles/admin`, { user: { id: a } });
    expect(selfAdmin.status).toBe(403);
    expect(selfAdmin.body.error.code).toBe('forbidden');
    const other = await p.call('auth', 'PUT', `/accounts/${b}/roles/streamer`, { user: { id: a } });
    expect(other.status).toBe(403);
    const byAdmin = await p.call('auth', 'PUT', `/accounts/${b}/roles/admin`, {
      user: { id: randomUUID(), roles: ['admin'] },
    });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.roles).toEqual(['viewer', 'admin']);
    const unknown = await p.call('auth', 'PUT', `/accounts/${randomUUID()}/roles/admin`, {
      user: { id: randomUUID(), roles: ['admin'] },
    });
    expect(unknown.status).toBe(404);
  });

  it('when an account is read by itself, an admin or someone else, then 200, 200 and 403', async () => {
    const a = (await signUp(newAccount())).body.account.id as string;
    expect((await p.call('auth', 'GET', `/accounts/${a}`, { user: { id: a } })).status).toBe(200);
    const admin = await p.call('auth', 'GET', `/accounts/${a}`, { user: { id: randomUUID(), roles: ['admin'] } });
    expect(admin.status).toBe(200);
    expect(admin.body.id).toBe(a);
    expect((await p.call('auth', 'GET', `/accounts/${a}`, { user: { id: randomUUID() } })).status).toBe(403);
    expect((await p.call('auth', 'GET', `/accounts/${a}`)).status).toBe(401);
  });

  it('when a token is issued, then its header names the key and the password is stored as argon2id', async () => {
    const created = await signUp(newAccount());
    expect(decodeProtectedHeader(created.body.tokens.accessToken)).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    const { authDb } = await import('./helpers.ts');
    const row = await authDb(p)
      .selectFrom('accounts')
      .select('password_hash')
      .where('id', '=', created.body.account.id)
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
  });
});

describe('auth start-up', () => {
  it('when LIVEHOUSE_AUTH_SIGNING_KEY is missing, then start-up fails with a message naming it', async () => {
    const backend = await openTestBackend('pglite');
    const { LIVEHOUSE_INTERNAL_KEY } = generateDevSecrets();
    try {
      await expect(
        startPlatform([authService], {
          backend: backend.backend,
          env: { LIVEHOUSE_INTERNAL_KEY: LIVEHOUSE_INTERNAL_KEY as string },
          config: () => ({ log: { level: 'silent' }, services: { user: 'http://127.0.0.1:9' } }),
        }),
      ).rejects.toThrow(/LIVEHOUSE_AUTH_SIGNING_KEY \(environment\) is required/);
    } finally {
      await backend.close();
    }
  });
});
