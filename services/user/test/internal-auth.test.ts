import { randomUUID } from 'node:crypto';
import { startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userService } from '../src/index.ts';

// Backends refuse every call without a valid internal token, each failure with its own code.
describe('internal tokens at a backend', () => {
  let p: TestPlatform;
  const id = randomUUID();
  beforeAll(async () => {
    p = await startTestPlatform([userService], 'pglite');
    await p.call('user', 'PUT', `/users/${id}`, { as: 'auth', body: { handle: 'tokens' } });
  });
  afterAll(() => p?.close());

  const get = (authorization?: string) =>
    fetch(`${p.url('user')}/users/${id}`, { headers: authorization ? { authorization } : {} }).then(async (r) => ({
      status: r.status,
      code: ((await r.json()) as { error?: { code: string } }).error?.code,
    }));
  const sign = (key: string, exp: number) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('livehouse:bff')
      .setAudience('livehouse-internal')
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(key));

  it('when a valid token is sent, then the call succeeds', async () => {
    expect(await get(`Bearer ${await p.token('bff')}`)).toEqual({ status: 200, code: undefined });
  });

  it('when no token is sent, then 401 internal_token_missing', async () => {
    expect(await get()).toEqual({ status: 401, code: 'internal_token_missing' });
  });

  it('when the token is tampered with, then 401 internal_token_invalid', async () => {
    const token = await p.token('bff');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload, 'base64url').toString()),
        sub: randomUUID(),
        roles: ['admin'],
      }),
    ).toString('base64url');
    expect(await get(`Bearer ${header}.${forged}.${signature}`)).toEqual({
      status: 401,
      code: 'internal_token_invalid',
    });
    expect(
      await get(`Bearer ${await sign('another-deployment-key-'.padEnd(40, 'x'), Math.floor(Date.now() / 1000) + 60)}`),
    ).toEqual({
      status: 401,
      code: 'internal_token_invalid',
    });
  });

  it('when the token has expired, then 401 internal_token_expired', async () => {
    const key = p.secrets.LIVEHOUSE_INTERNAL_KEY as string;
    expect(await get(`Bearer ${await sign(key, Math.floor(Date.now() / 1000) - 120)}`)).toEqual({
      status: 401,
      code: 'internal_token_expired',
    });
  });
});
