import { auth } from '@livehouse/contracts';
import { startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { userService } from '@livehouse/user';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authService } from '../src/index.ts';
import { newAccount } from './helpers.ts';

const from = (ip: string) => ({ [auth.CLIENT_IP_HEADER]: ip });

// Issue 17, item 7: sign-up has its own limit, and its argon2 work cannot starve other users' logins.
describe('sign-up floods', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    // Real argon2 cost (the defaults): what makes a flood expensive.
    p = await startTestPlatform([userService, authService], 'pglite', {
      config: (name) => (name === 'auth' ? { auth: { signUpRateLimit: { perIp: { max: 3, windowMs: 60_000 } } } } : {}),
    });
  });
  afterAll(() => p?.close());

  const signUp = (ip: string) => p.call('auth', 'POST', '/accounts', { body: newAccount('f'), headers: from(ip) });

  it('when one address signs up more than its limit, then 429 rate_limited and no further account', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await signUp('203.0.113.50')).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
  });

  it('when 60 sign-ups arrive at once from many addresses, then a login answers within 4× its quiet latency', async () => {
    const owner = newAccount('o');
    expect((await p.call('auth', 'POST', '/accounts', { body: owner })).status).toBe(201);
    const logIn = async () => {
      const started = performance.now();
      const res = await p.call('auth', 'POST', '/sessions', {
        body: { login: owner.handle, password: owner.password },
        headers: from('198.51.100.1'),
      });
      expect(res.status).toBe(200);
      return performance.now() - started;
    };
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const quiet = [];
    for (let i = 0; i < 5; i++) quiet.push(await logIn());
    const flood = Promise.all(Array.from({ length: 60 }, (_, i) => signUp(`192.0.2.${i + 1}`)));
    // Give the flood a head start: its hashes are queued before the login's.
    await new Promise((r) => setTimeout(r, 20));
    const loaded = [];
    for (let i = 0; i < 3; i++) loaded.push(await logIn());
    const statuses = (await flood).map((r) => r.status);
    expect(
      statuses.every((s) => s === 201 || s === 429),
      String(statuses),
    ).toBe(true);
    expect(
      median(loaded),
      `quiet ${quiet.map(Math.round)} ms, under the flood ${loaded.map(Math.round)} ms`,
    ).toBeLessThan(4 * median(quiet) + 50);
  });
});
