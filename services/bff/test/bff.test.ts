import { createPrivateKey } from 'node:crypto';
import { auth } from '@livehouse/contracts';
import { dbKinds, type TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBff } from './helpers.ts';

describe.each(dbKinds)('bff commands on %s', (kind) => {
  let p: TestPlatform;
  let api: string;
  const json = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(api + path, {
      method,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(token && { authorization: `Bearer ${token}` }),
      },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };

  beforeAll(async () => {
    p = await startBff(kind);
    api = `${p.url('bff')}/web/v1`;
    const signUp = async (handle: string) => {
      const res = await json('POST', '/auth/signup', {
        handle,
        email: `${handle}@example.com`,
        password: 'long-enough-secret',
      });
      expect(res.status).toBe(201);
      return { id: res.body.account.id as string, token: res.body.tokens.accessToken as string };
    };
    alice = await signUp('alice');
    bob = await signUp('bob');
  });
  afterAll(() => p?.close());

  it('when alice follows bob through the BFF, then bob lists her as a follower', async () => {
    expect((await json('PUT', `/me/following/${bob.id}`, undefined, alice.token)).body).toEqual({ following: true });
    const followers = await json('GET', `/users/${bob.id}/followers`);
    expect(followers.body.items.map((f: { user: { handle: string } }) => f.user.handle)).toEqual(['alice']);
    const me = await json('GET', '/me', undefined, alice.token);
    expect(me.body.followingCount).toBe(1);
  });

  it('when the app client logs in, then the same commands answer under /app/v1', async () => {
    const res = await fetch(`${p.url('bff')}/app/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: 'bob', password: 'long-enough-secret' }),
    });
    expect(res.status).toBe(200);
  });

  it('when no access token is sent to /me, then 401 token_missing', async () => {
    const res = await json('GET', '/me');
    expect([res.status, res.body.error.code]).toEqual([401, 'token_missing']);
  });

  it('when the access token has expired, then 401 token_expired', async () => {
    const jwks = (await p.call('auth', 'GET', '/.well-known/jwks.json')).body as { keys: { kid: string }[] };
    const key = createPrivateKey(p.secrets.LIVEHOUSE_AUTH_SIGNING_KEY as string);
    const past = Math.floor(Date.now() / 1000) - 60;
    const expired = await new SignJWT({ handle: 'alice', roles: ['viewer'] })
      .setProtectedHeader({ alg: 'ES256', kid: jwks.keys[0]?.kid as string })
      .setSubject(alice.id)
      .setIssuer(auth.ACCESS_TOKEN_ISSUER)
      .setAudience(auth.ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt(past - 900)
      .setExpirationTime(past)
      .sign(key);
    const res = await json('GET', '/me', undefined, expired);
    expect([res.status, res.body.error.code]).toEqual([401, 'token_expired']);
  });

  it('when the access token is tampered with, then 401 token_invalid', async () => {
    const [h, , s] = alice.token.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: bob.id, handle: 'bob', roles: ['admin'] })).toString('base64url');
    const res = await json('GET', '/me', undefined, `${h}.${forged}.${s}`);
    expect([res.status, res.body.error.code]).toEqual([401, 'token_invalid']);
  });

  it('when profile updates carry any input, then none yields a 5xx and invalid ones change nothing', async () => {
    const before = (await json('GET', '/me', undefined, bob.token)).body;
    const field = fc.oneof(fc.string({ maxLength: 600 }), fc.integer(), fc.constant(null), fc.boolean(), fc.webUrl());
    const body = fc.oneof(
      fc.record({ displayName: field, bio: field, avatarUrl: field }, { requiredKeys: [] }),
      fc.dictionary(fc.string({ maxLength: 12 }), field, { maxKeys: 4 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 50 }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await json('PATCH', '/me', b, bob.token);
        expect(res.status).toBeLessThan(500);
        if (res.status !== 200) {
          expect(res.body.error.code).toMatch(/^[a-z_]+$/);
          const now = (await json('GET', '/me', undefined, bob.token)).body;
          expect(now).toEqual(before);
        } else {
          Object.assign(before, res.body);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('when the body is malformed JSON or a field is unknown, then 400 and nothing is written', async () => {
    const malformed = await json('POST', '/auth/signup', '{"handle": "carol",');
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'invalid_json']);
    const extra = await json('POST', '/auth/signup', {
      handle: 'carol',
      email: 'carol@example.com',
      password: 'long-enough-secret',
      admin: true,
    });
    expect([extra.status, extra.body.error.code]).toEqual([400, 'validation_failed']);
    expect((await p.call('user', 'GET', '/users/by-handle/carol')).status).toBe(404);
  });
});
