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

  it('when 60 sign-ups arrive at once from many addresses, then logins are answered while the sign-ups still queue', {
    timeout: 120_000,
  }, async () => {
    const owner = newAccount('o');
    expect((await p.call('auth', 'POST', '/accounts', { body: owner })).status).toBe(201);
    const logIn = async () => {
      const res = await p.call('auth', 'POST', '/sessions', {
        body: { login: owner.handle, password: owner.password },
        headers: from('198.51.100.1'),
      });
      expect(res.status).toBe(200);
    };
    let created = 0;
    let markFull: () => void = () => {};
    const full = new Promise<void>((resolve) => {
      markFull = resolve;
    });
    // Sign-ups hash one at a time with 32 queued; the first one refused says the queue is full.
    const flood = Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const res = await signUp(`192.0.2.${i + 1}`);
        if (res.status === 201) created++;
        if (res.status === 429) markFull();
        return res.status;
      }),
    );
    await Promise.race([full, flood]);
    const createdBefore = created;
    for (let i = 0; i < 3; i++) await logIn();
    const createdDuring = created - createdBefore;
    const statuses = await flood;
    expect(statuses.includes(429), 'the flood never filled the sign-up queue').toBe(true);
    expect(
      statuses.every((s) => s === 201 || s === 429),
      String(statuses),
    ).toBe(true);
    // Counted in hashes, not milliseconds: logins have their own pool, so three of them finish while most of
    // the queued sign-ups still wait; behind one shared queue they would finish after all of them.
    const queued = created - createdBefore;
    expect(createdDuring, `sign-ups finished while 3 logins ran: ${createdDuring} of ${queued} queued`).toBeLessThan(
      queued / 2,
    );
  });
});
