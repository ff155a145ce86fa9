import { apis } from '@livehouse/contracts';
import { dbKinds, type TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bffService } from '../src/index.ts';
import { buildWorld, publicApi, startBff, type World } from './helpers.ts';

/** Every backend's breaker as the BFF's metrics report it: 0 closed, 1 half-open, 2 open. */
export async function breakerStates(adminUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const states: Record<string, number> = {};
  for (const m of text.matchAll(/^backend_breaker_state\{([^}]*)\} (\d+)$/gm)) {
    const backend = /backend="([a-z]+)"/.exec(m[1] as string)?.[1];
    if (backend) states[backend] = Number(m[2]);
  }
  if (Object.keys(states).length === 0) throw new Error(`no backend_breaker_state in the metrics:\n${text}`);
  return states;
}

export const allClosed = (states: Record<string, number>) =>
  Object.fromEntries(Object.keys(states).map((name) => [name, 0]));

// A breaker counts only what says a backend is unhealthy: never an answer caused by the caller's
// input or by a deadline the caller chose (issue 17, item 2).
describe.each(dbKinds)('bff breakers against hostile clients on %s', (kind) => {
  let p: TestPlatform;
  let w: World;
  let api: ReturnType<typeof publicApi>;
  let admin: string;
  beforeAll(async () => {
    p = await startBff(kind, (name) =>
      name === 'bff' ? { bff: { rateLimit: { perIp: { max: 100_000 }, perUser: { max: 100_000 } } } } : {},
    );
    w = await buildWorld(p);
    api = publicApi(`${p.url('bff')}/web/v1`);
    admin = p.services.get('bff')?.adminUrl as string;
  });
  afterAll(() => p?.close());

  it('when eight clients log in with a NUL byte at once, then each gets a 4xx and the auth breaker stays closed', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => api('POST', '/auth/login', { body: { login: '\u0000', password: 'x' } })),
    );
    expect(answers.map((a) => a.status).filter((s) => s >= 500)).toEqual([]);
    const states = await breakerStates(admin);
    expect(states.auth).toBe(0);
    expect(states).toEqual(allClosed(states));
  });

  it('when a client sends a livehouse-deadline a few ms ahead, then it is ignored and no breaker opens', async () => {
    for (let i = 0; i < 8; i++) {
      const headers = { 'livehouse-deadline': String(Date.now() + 3) };
      const me = await api('GET', '/me', { token: w.viewer.token, headers });
      expect(me.status, JSON.stringify(me.body)).toBe(200);
      const stream = await api('GET', `/streams/${w.streamId}`, { token: w.viewer.token, headers });
      expect(stream.status).toBe(200);
      expect(stream.body.meta.degraded).toEqual([]);
    }
    const states = await breakerStates(admin);
    expect(states).toEqual(allClosed(states));
  });

  it('when clients send random bodies, headers (every internal livehouse-* one) and tokens, then no breaker leaves closed', async () => {
    const internal = [
      'livehouse-deadline',
      'livehouse-db-queries',
      'livehouse-degraded',
      'livehouse-client-ip',
      'x-livehouse-client-ip',
    ];
    const headerValue = fc.oneof(
      fc.constantFrom('0', '1', '-1', String(Date.now() + 2), 'NaN', '9'.repeat(30), ''),
      fc.integer().map((n) => String(Date.now() + n)),
      fc.string({ maxLength: 40 }).map((v) => v.replace(/[^\x20-\x7e]/g, '')),
    );
    const headers = fc.dictionary(
      fc.oneof(
        fc.constantFrom(...internal, 'traceparent', 'x-request-id', 'x-forwarded-for', 'idempotency-key'),
        fc.constantFrom('livehouse-x', 'livehouse-user'),
      ),
      headerValue,
      { maxKeys: 6 },
    );
    const token = fc.oneof(
      fc.constant(undefined),
      fc.constant(w.viewer.token),
      fc.constant(w.streamer.token),
      fc.string({ maxLength: 60 }).map((t) => t.replace(/[^\x21-\x7e]/g, 'a')),
    );
    const text = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('\u0000', 'a\uD800', 'x'.repeat(3000)));
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.record({ login: text, password: text }, { requiredKeys: [] }),
      fc.record({ handle: text, email: text, password: text }, { requiredKeys: [] }),
      fc.record({ bio: text, displayName: text, title: text, description: text, stampId: text }, { requiredKeys: [] }),
    );
    const routes = [
      ['POST', '/auth/login'],
      ['POST', '/auth/signup'],
      ['POST', '/auth/refresh'],
      ['POST', '/auth/logout'],
      ['PATCH', '/me'],
      ['GET', '/me'],
      ['POST', '/me/channel'],
      ['POST', '/me/streams'],
      ['GET', '/home'],
      ['GET', `/streams/${w.streamId}`],
      ['GET', `/channels/${w.channelId}`],
      ['GET', `/users/${w.viewer.id}`],
      ['POST', `/streams/${w.streamId}/stamps`],
      ['PUT', `/me/following/${w.streamer.id}`],
      ['GET', '/me/points'],
      ['GET', '/stamps/catalog'],
    ] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, headers, token, async ([method, path], b, h, t) => {
        const res = await api(method, path, {
          ...(method !== 'GET' && { body: JSON.stringify(b) }),
          ...(t !== undefined && { token: t }),
          headers: h,
        });
        expect(res.status, `${method} ${path} ${JSON.stringify(res.body)}`).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
    const states = await breakerStates(admin);
    // One breaker per backend the BFF calls through a client, whichever those are (chat is proxied, not called).
    expect(Object.keys(states).sort()).toEqual(bffService.dependsOn.filter((name) => name in apis).sort());
    expect(states).toEqual(allClosed(states));
  }, 120_000);
});
