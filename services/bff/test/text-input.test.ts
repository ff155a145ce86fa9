import { dbKinds, type TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicApi, startBff } from './helpers.ts';

/** A character PostgreSQL text cannot hold (NUL) or that is not a Unicode scalar value (an unpaired surrogate). */
const unstorable = fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\uDBFF');
/** Text with one unstorable character somewhere in it. */
const poisoned = fc
  .tuple(fc.string({ maxLength: 10 }), unstorable, fc.string({ maxLength: 10 }))
  .map(([a, bad, b]) => `${a}${bad}${b}`);

// Issue 17, item 4: one schema rule rejects what PostgreSQL text cannot hold, at validation, with 400.
describe.each(dbKinds)('text the database cannot hold, on %s', (kind) => {
  let p: TestPlatform;
  let api: ReturnType<typeof publicApi>;
  let viewer: { id: string; token: string };
  beforeAll(async () => {
    p = await startBff(kind, (name) =>
      name === 'bff' ? { bff: { rateLimit: { perIp: { max: 100_000 }, perUser: { max: 100_000 } } } } : {},
    );
    api = publicApi(`${p.url('bff')}/web/v1`);
    const res = await api('POST', '/auth/signup', {
      body: { handle: 'viewer1', email: 'viewer1@example.com', password: 'long-enough-secret' },
    });
    viewer = { id: res.body.account.id, token: res.body.tokens.accessToken };
  });
  afterAll(() => p?.close());

  it('when any text field of a command holds NUL or an unpaired surrogate, then 400 validation_failed and nothing changes', async () => {
    const profile = async () => (await api('GET', '/me', { token: viewer.token })).body;
    const before = await profile();
    const commands = [
      {
        path: '/auth/signup',
        body: (t: string) => ({ handle: 'newbie', email: 'n@example.com', password: `pw-${t}-long-enough` }),
      },
      {
        path: '/auth/signup',
        body: (t: string) => ({ handle: 'newbie', email: `n${t}@example.com`, password: 'long-enough-pw' }),
      },
      { path: '/auth/login', body: (t: string) => ({ login: t, password: 'x' }) },
      { path: '/auth/login', body: (t: string) => ({ login: 'viewer1', password: t }) },
      { path: '/auth/refresh', body: (t: string) => ({ refreshToken: t }) },
      { method: 'PATCH', path: '/me', body: (t: string) => ({ bio: t }) },
      { method: 'PATCH', path: '/me', body: (t: string) => ({ displayName: `x${t}` }) },
      { path: '/me/channel', body: (t: string) => ({ title: `x${t}` }) },
      { path: '/me/channel', body: (t: string) => ({ title: 'ok', description: t }) },
      { path: '/me/streams', body: (t: string) => ({ title: `x${t}` }) },
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...commands), poisoned, async (cmd, text) => {
        const res = await api(cmd.method ?? 'POST', cmd.path, { token: viewer.token, body: cmd.body(text) });
        expect([res.status, res.body?.error?.code], `${cmd.path} ${JSON.stringify(text)}`).toEqual([
          400,
          'validation_failed',
        ]);
      }),
      { numRuns: 120 },
    );
    expect(await profile()).toEqual(before);
    const account = await p.call('auth', 'GET', `/accounts/${viewer.id}`, { user: { id: viewer.id } });
    expect(account.body.roles).toEqual(['viewer']);
  });

  it('when contents refuses the channel (an unknown category), then the account is not made a streamer', async () => {
    const res = await api('POST', '/me/channel', {
      token: viewer.token,
      body: { title: 'My channel', categoryId: '00000000-0000-4000-8000-000000000000' },
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const account = await p.call('auth', 'GET', `/accounts/${viewer.id}`, { user: { id: viewer.id } });
    expect(account.body.roles).toEqual(['viewer']);
  });

  it('when a channel is created without the BFF granting the role, then channel.created makes its owner a streamer', async () => {
    const res = await api('POST', '/auth/signup', {
      body: { handle: 'direct1', email: 'direct1@example.com', password: 'long-enough-secret' },
    });
    const id = res.body.account.id as string;
    const created = await p.call('contents', 'POST', '/channels', {
      user: { id, roles: ['viewer', 'streamer'] },
      body: { title: 'Made without the BFF' },
    });
    expect(created.status).toBe(201);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const account = await p.call('auth', 'GET', `/accounts/${id}`, { user: { id } });
      if (account.body.roles.includes('streamer')) break;
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
