import { dbKinds, type TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorld, publicApi, startBff, type World } from './helpers.ts';

// Bad input at the public API: never a 5xx, always the error format, and nothing changes.
describe.each(dbKinds)('bff public input on %s', (kind) => {
  let p: TestPlatform;
  let w: World;
  let api: ReturnType<typeof publicApi>;
  beforeAll(async () => {
    p = await startBff(kind, (name) =>
      name === 'bff' ? { bff: { rateLimit: { perIp: { max: 100_000 }, perUser: { max: 100_000 } } } } : {},
    );
    w = await buildWorld(p);
    api = publicApi(`${p.url('bff')}/web/v1`);
  });
  afterAll(() => p?.close());

  const commands = (w: World) => [
    { method: 'POST', path: '/auth/signup' },
    { method: 'POST', path: '/auth/login' },
    { method: 'POST', path: '/auth/refresh' },
    { method: 'PATCH', path: '/me' },
    { method: 'POST', path: '/me/points/checkouts' },
    { method: 'POST', path: `/streams/${w.streamId}/stamps` },
    { method: 'POST', path: '/me/streams' },
    { method: 'POST', path: '/me/channel' },
  ];

  it('when any command gets arbitrary bodies, tokens and keys, then the answer is a 4xx or a success, never a 5xx', async () => {
    const balance = async () => (await api('GET', '/me/points', { token: w.viewer.token })).body.balance as number;
    const before = await balance();
    const token = fc.oneof(
      fc.constant(w.viewer.token),
      fc.constant(undefined),
      fc.string({ maxLength: 40 }),
      fc.constant(`${w.viewer.token.slice(0, -4)}AAAA`),
    );
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.string({ maxLength: 100 }).map((s) => `{"amount":${s}`),
      fc.record(
        { amount: fc.oneof(fc.integer(), fc.double(), fc.string()), paymentId: fc.string() },
        { requiredKeys: [] },
      ),
      fc.record({ packId: fc.oneof(fc.constantFrom('p100', 'p500', 'nope'), fc.string()) }, { requiredKeys: [] }),
      fc.record({ stampId: fc.oneof(fc.uuid(), fc.string()), extra: fc.anything() }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...commands(w)),
        body,
        token,
        fc.option(fc.string({ maxLength: 120 })),
        async (cmd, b, t, key) => {
          const res = await api(cmd.method, cmd.path, {
            body: typeof b === 'string' ? b : JSON.stringify(b),
            ...(t !== undefined && { token: t }),
            headers: key === null ? {} : { 'idempotency-key': encodeURIComponent(key) },
          });
          expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
          if (res.status >= 400) expect(res.body.error).toMatchObject({ code: expect.stringMatching(/^[a-z_]+$/) });
        },
      ),
      { numRuns: 200 },
    );
    // No command credits points: a checkout opened is not paid until the provider's signed webhook says so.
    expect(await balance()).toBe(before);
  });

  it('when the body is huge, then 413 payload_too_large', async () => {
    const res = await api('POST', '/auth/signup', { body: JSON.stringify({ handle: 'x'.repeat(200_000) }) });
    expect([res.status, res.body.error.code]).toEqual([413, 'payload_too_large']);
  });

  it('when a command that moves points has no Idempotency-Key, then 400 and no transfer', async () => {
    const res = await api('POST', '/me/points/checkouts', {
      token: w.viewer.token,
      body: { packId: 'p100' },
    });
    expect([res.status, res.body.error.code]).toEqual([400, 'idempotency_key_required']);
  });
});

describe('bff rate limits', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startBff('pglite', (name) =>
      name === 'bff' ? { bff: { rateLimit: { perIp: { max: 5, windowMs: 60_000 } } } } : {},
    );
  });
  afterAll(() => p?.close());

  it('when one address sends more than its limit, then 429 rate_limited with Retry-After', async () => {
    const api = publicApi(`${p.url('bff')}/app/v1`);
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await api('GET', '/home')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const limited = await api('GET', '/home');
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
