import { depsOf } from '@livehouse/kit';
import { dbKinds, type TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bffService } from '../src/index.ts';
import { buildWorld, publicApi, startBff, type World } from './helpers.ts';

/** Sum of a counter over all its series in a Prometheus text exposition. */
async function counterSum(url: string, name: string) {
  const text = await (await fetch(url)).text();
  return (
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      // Relays and consumers poll in the background: only statements run for requests count here.
      .filter((l) => !l.includes('route="background"'))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)
  );
}

describe.each(dbKinds)('bff views on %s', (kind) => {
  let p: TestPlatform;
  let w: World;
  let app: ReturnType<typeof publicApi>;
  let web: ReturnType<typeof publicApi>;
  beforeAll(async () => {
    p = await startBff(kind);
    w = await buildWorld(p);
    app = publicApi(`${p.url('bff')}/app/v1`);
    web = publicApi(`${p.url('bff')}/web/v1`);
  });
  afterAll(() => p?.close());

  it('when a follower opens home, then the live stream, its streamer and the wallet are there for both clients', async () => {
    const a = await app('GET', '/home', { token: w.viewer.token });
    expect(a.status).toBe(200);
    expect(a.body.meta.degraded).toEqual([]);
    expect(a.body.liveNow[0]).toMatchObject({ id: w.streamId, streamer: 'streamer1' });
    expect(a.body.followingLive.map((s: { id: string }) => s.id)).toEqual([w.streamId]);
    expect(a.body.balance).toBeGreaterThan(0);
    expect(a.body.catalogVersion).toEqual(expect.any(String));

    const b = await web('GET', '/home', { token: w.viewer.token });
    expect(b.body.liveNow[0].streamer).toMatchObject({
      id: w.streamer.id,
      handle: 'streamer1',
      displayName: 'streamer1',
    });
    expect(b.body.wallet.balance).toBe(a.body.balance);
    // The app gets compact cards, the web rich objects.
    expect(Object.keys(a.body.liveNow[0]).sort()).toEqual([
      'category',
      'id',
      'streamer',
      'thumbnailUrl',
      'title',
      'viewerCount',
    ]);
    expect(b.body.liveNow[0].channel).toMatchObject({ id: w.channelId });
  });

  it('when a followed channel goes live, then the home timeline of the follower shows it', async () => {
    // Events travel outbox → relay → bus → timeline asynchronously: wait for them.
    let entries: { streamId: string; streamer: string | null; live: boolean }[] = [];
    for (let i = 0; i < 50 && entries.length === 0; i++) {
      entries = (await app('GET', '/home', { token: w.viewer.token })).body.timeline;
      if (entries.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(entries[0]).toMatchObject({ streamId: w.streamId, streamer: 'streamer1', live: true });
  });

  it('when nobody is logged in, then home has no wallet and nothing is degraded', async () => {
    const a = await app('GET', '/home');
    expect([a.status, a.body.balance, a.body.followingLive, a.body.meta.degraded]).toEqual([200, null, [], []]);
  });

  it('when the stream page is opened, then stream, streamer, follow state, catalog and supporters compose', async () => {
    const b = await web('GET', `/streams/${w.streamId}`, { token: w.viewer.token });
    expect(b.status).toBe(200);
    expect(b.body.stream.streamer.handle).toBe('streamer1');
    expect(b.body.viewerFollows).toBe(true);
    // The catalog's version only (it was the whole 95-KB catalog in every view): clients fetch it once by ETag.
    expect(b.body).not.toHaveProperty('catalog');
    const catalog = await fetch(`${p.url('bff')}/web/v1/stamps/catalog`);
    expect(catalog.headers.get('etag')).toBe(`"${b.body.catalogVersion}"`);
    expect(b.body.topSupporters[0].user.handle).toBe('viewer1');
    const a = await app('GET', `/streams/${w.streamId}`, { token: w.viewer.token });
    expect(a.body.topSupporters[0]).toMatchObject({ handle: 'viewer1' });
    expect(a.body).not.toHaveProperty('catalog');
    expect(a.body.catalogVersion).toBe(b.body.catalogVersion);
  });

  it('when the channel and profile pages are opened, then they show the live stream and the channel', async () => {
    const c = await web('GET', `/channels/${w.channelId}`);
    expect(c.body.live.id).toBe(w.streamId);
    // The newest archives, with no cursor: no route would accept one (issue 14, item 7).
    expect(c.body.archives).toEqual({ items: expect.any(Array) });
    expect(c.body.streamer.handle).toBe('streamer1');
    const u = await app('GET', `/users/${w.streamer.id}`, { token: w.viewer.token });
    expect(u.body).toMatchObject({ channelId: w.channelId, viewerFollows: true, profile: { followersCount: 1 } });
  });

  it('when an unknown or malformed id is asked for, then 404 or 400 in the error format', async () => {
    const unknown = await web('GET', '/streams/00000000-0000-4000-8000-000000000000');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'not_found']);
    const malformed = await web('GET', '/channels/not-an-id');
    expect([malformed.status, malformed.body.error.code]).toEqual([400, 'validation_failed']);
  });

  it('when home is composed, then it costs at most one SQL statement per backend call', async () => {
    depsOf(p.services.get('bff')!.built, bffService).sectionCache.clear(); // every section calls its backend
    const admins = [...p.services.entries()].filter(([n]) => n !== 'bff').map(([, s]) => s.adminUrl);
    const bffAdmin = p.services.get('bff')!.adminUrl;
    const statements = async () =>
      (await Promise.all(admins.map((u) => counterSum(`${u}/metrics`, 'db_queries_total')))).reduce((a, b) => a + b, 0);
    const [s0, c0] = [await statements(), await counterSum(`${bffAdmin}/metrics`, 'backend_calls_total')];
    const res = await web('GET', '/home', { token: w.viewer.token });
    expect(res.status).toBe(200);
    const [s1, c1] = [await statements(), await counterSum(`${bffAdmin}/metrics`, 'backend_calls_total')];
    const calls = c1 - c0;
    expect(calls).toBeGreaterThan(0);
    expect(s1 - s0).toBeLessThanOrEqual(calls);
  });

  it("when the OpenAPI document is read, then both clients' views are described and differ", async () => {
    const doc = (await fetch(`${p.url('bff')}/docs/json`).then((r) => r.json())) as {
      paths: Record<
        string,
        { get?: { responses: Record<string, { content: Record<string, { schema: { properties: object } }> }> } }
      >;
    };
    const props = (path: string) =>
      Object.keys(doc.paths[path]?.get?.responses['200']?.content['application/json']?.schema.properties ?? {});
    expect(props('/app/v1/home')).toContain('balance');
    expect(props('/web/v1/home')).toContain('wallet');
    expect(props('/web/v1/streams/{id}')).toContain('channel');
    expect(props('/app/v1/streams/{id}')).not.toContain('channel');
  });
});
