import { auth } from '@livehouse/contracts';
import type { TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbKinds, newAccount, startAuthPlatform } from './helpers.ts';

// Issue 17, item 5: failed logins slow the attacker, never lock the owner out. Limits in the test
// platform: 3 per account and address, 6 per account from addresses it never logged in from.
describe.each(dbKinds)('login limits as a weapon on %s', (kind) => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startAuthPlatform(kind);
  });
  afterAll(() => p?.close());

  const from = (ip: string) => ({ [auth.CLIENT_IP_HEADER]: ip });
  const logIn = (login: string, password: string, ip: string) =>
    p.call('auth', 'POST', '/sessions', { as: 'bff', body: { login, password }, headers: from(ip) });
  const octet = kind === 'pglite' ? 10 : 20;

  it('when an attacker fails from one address, then that address is slowed and the owner still logs in from theirs', async () => {
    const owner = newAccount('lo');
    expect((await p.call('auth', 'POST', '/accounts', { as: 'bff', body: owner })).status).toBe(201);
    const attacker = `203.0.113.${octet}`;
    for (let i = 0; i < 3; i++) expect((await logIn(owner.handle, 'wrong password', attacker)).status).toBe(401);
    expect((await logIn(owner.handle, owner.password, attacker)).status).toBe(429);
    expect((await logIn(owner.handle, owner.password, '198.51.100.7')).status).toBe(200);
    expect((await logIn(owner.email, owner.password, '198.51.100.8')).status).toBe(200);
  });

  it('when many addresses guess one password, then new addresses are slowed but the owner keeps their familiar address', async () => {
    const owner = newAccount('ld');
    expect((await p.call('auth', 'POST', '/accounts', { as: 'bff', body: owner })).status).toBe(201);
    const home = `198.51.100.${octet}`;
    expect((await logIn(owner.handle, owner.password, home)).status).toBe(200);
    // A botnet: two guesses from each address, so no address meets its own limit, until the account's
    // limit for unfamiliar addresses slows them all.
    const guesses: number[] = [];
    for (let bot = 0; bot < 5 && !guesses.includes(429); bot++) {
      for (let i = 0; i < 2; i++)
        guesses.push((await logIn(owner.handle, 'wrong password', `192.0.2.${octet + bot}`)).status);
    }
    expect(guesses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(guesses).toContain(429);
    expect((await logIn(owner.handle, owner.password, `192.0.2.${octet + 9}`)).status).toBe(429);
    expect((await logIn(owner.email, owner.password, home)).status).toBe(200);
  });
});
