import { dbKinds, type TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
