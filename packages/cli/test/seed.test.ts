import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seed } from '../src/seed.ts';
import { services } from '../src/services.ts';

// `livehouse up` seeds its first start through the services' typed clients: the data must land, twice the same.
describe('livehouse seed', () => {
  let p: TestPlatform;
  beforeAll(async () => {
    // startTestPlatform wires the embedded payment provider's signed webhooks to the BFF, which forwards them.
    const names = ['user', 'auth', 'contents', 'point', 'stamp', 'timeline', 'chat', 'payment', 'bff'];
    p = await startTestPlatform(
      names.map((name) => services[name]?.definition ?? expect.fail(`no service ${name}`)),
      dbKinds[0] ?? 'pglite',
      // 122 sign-ups: this test checks the data, not production's password-hashing cost.
      {
        config: (name) => (name === 'auth' ? { auth: { passwordHashing: { memoryCostKiB: 1024, timeCost: 1 } } } : {}),
      },
    );
  }, 300_000);
  afterAll(async () => p?.close());

  it('when seeding twice, then the demo data is there once: users, follows, channels, live streams, archives, wallets', async () => {
    const urls = new Map(['auth', 'user', 'contents', 'payment'].map((name) => [name, p.url(name)]));
    const first = await seed(urls, p.secrets);
    expect(first).toContain('50 viewers and 10 streamers');
    expect(first).toContain('6 live streams, 4 archives');
    expect(first).toContain('50 wallets');
    expect(await seed(urls, p.secrets)).toBe(first);

    const live = await p.call('contents', 'GET', '/streams/live?limit=50');
    expect(live.body.items).toHaveLength(6);
    const viewer = await p.call('user', 'GET', '/users/by-handle/viewer_01');
    const wallet = await p.call('point', 'GET', `/wallets/${viewer.body.id}`, { user: { id: viewer.body.id } });
    expect(wallet.body.balance).toBe(1000);
    // Two seeds are ~1,600 requests one after another on one PGlite session: minutes on a machine two suites share.
  }, 600_000);
});
