import { createHash, randomUUID } from 'node:crypto';
import { dbKinds, startTestPlatform, type TestBody, type TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContentsDatabase } from '../src/db.ts';
import { contentsService } from '../src/index.ts';

type Role = 'viewer' | 'streamer' | 'admin';
const admin = { id: randomUUID(), roles: ['admin'] as Role[] };
const streamer = () => ({ id: randomUUID(), roles: ['streamer'] as Role[] });
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe.each(dbKinds)('contents on %s', (kind) => {
  let p: TestPlatform;
  let db: Kysely<ContentsDatabase>;
  const categories: Record<string, string> = {};

  const createChannel = async (owner: { id: string; roles: Role[] }, body: Record<string, unknown> = {}) => {
    const res = await p.call('contents', 'POST', '/channels', { user: owner, body: { title: 'My channel', ...body } });
    expect(res.status).toBe(201);
    return res.body as { channel: TestBody; streamKey: string };
  };
  const createStream = async (owner: { id: string; roles: Role[] }, channelId: string, body = {}) => {
    const res = await p.call('contents', 'POST', `/channels/${channelId}/streams`, {
      user: owner,
      body: { title: 'Tonight', ...body },
    });
    expect(res.status).toBe(201);
    return res.body as TestBody;
  };
  const act = (user: { id: string; roles: Role[] }, streamId: string, action: 'start' | 'end') =>
    p.call('contents', 'POST', `/streams/${streamId}/${action}`, { user });
  const outbox = (type: string, key: string) =>
    db.selectFrom('outbox').select(['type', 'key', 'data']).where('type', '=', type).where('key', '=', key).execute();

  beforeAll(async () => {
    p = await startTestPlatform([contentsService], kind);
    db = p.services.get('contents')!.built.database!.db as Kysely<ContentsDatabase>;
    for (const [slug, name] of [
      ['minecraft', 'Minecraft'],
      ['tetris', 'Tetris'],
    ]) {
      const res = await p.call('contents', 'POST', '/categories', { user: admin, body: { slug, name } });
      expect(res.status).toBe(201);
      categories[slug as string] = res.body.id;
    }
  });
  afterAll(() => p?.close());

  describe('channels and stream keys', () => {
    it('when a viewer creates a channel, then 403; a streamer gets one channel, and a second is 409', async () => {
      const viewer = { id: randomUUID(), roles: ['viewer'] as Role[] };
      const denied = await p.call('contents', 'POST', '/channels', { user: viewer, body: { title: 'Nope' } });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('forbidden');

      const owner = streamer();
      const { channel } = await createChannel(owner, { categoryId: categories.minecraft });
      expect(channel).toMatchObject({ ownerId: owner.id, category: { slug: 'minecraft' }, liveStreamId: null });
      const again = await p.call('contents', 'POST', '/channels', { user: owner, body: { title: 'Second' } });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('conflict');
      expect(await outbox('channel.created', channel.id)).toHaveLength(1);
    });

    it('when a slug is taken or a category unknown, then 409 or 404 and nothing is written', async () => {
      const taken = await p.call('contents', 'POST', '/categories', {
        user: admin,
        body: { slug: 'tetris', name: 'T' },
      });
      expect(taken.status).toBe(409);
      expect(taken.body.error.code).toBe('conflict');
      const unknown = randomUUID();
      const owner = streamer();
      const refused = await p.call('contents', 'POST', '/channels', {
        user: owner,
        body: { title: 'Lost', categoryId: unknown },
      });
      expect(refused.status).toBe(404);
      expect((await p.call('contents', 'GET', `/channels/by-owner/${owner.id}`)).status).toBe(404);
      const { channel } = await createChannel(owner);
      const patched = await p.call('contents', 'PATCH', `/channels/${channel.id}`, {
        user: owner,
        body: { categoryId: unknown },
      });
      expect(patched.status).toBe(404);
      const stream = await p.call('contents', 'POST', `/channels/${channel.id}/streams`, {
        user: owner,
        body: { title: 'Lost', categoryId: unknown },
      });
      expect(stream.status).toBe(404);
      expect((await p.call('contents', 'GET', `/channels/${channel.id}`)).body.category).toBeNull();
    });

    it('when a channel is created, then its stream key is shown once, stored as sha256 only, and verifies', async () => {
      const owner = streamer();
      const { channel, streamKey } = await createChannel(owner);
      expect(streamKey).toMatch(/^live_[A-Za-z0-9_-]{43}$/);

      const stored = await db.selectFrom('channels').selectAll().where('id', '=', channel.id).executeTakeFirstOrThrow();
      expect(stored.stream_key_hash).toBe(sha256(streamKey));
      expect(JSON.stringify(stored)).not.toContain(streamKey);
      const read = await p.call('contents', 'GET', `/channels/${channel.id}`);
      expect(JSON.stringify(read.body)).not.toContain(streamKey);
      expect(JSON.stringify(read.body)).not.toContain(stored.stream_key_hash);

      const verified = await p.call('contents', 'POST', '/stream-keys/verify', {
        as: 'ingest',
        body: { key: streamKey },
      });
      expect(verified).toMatchObject({ status: 200, body: { channelId: channel.id } });
      const fromBff = await p.call('contents', 'POST', '/stream-keys/verify', { as: 'bff', body: { key: streamKey } });
      expect(fromBff.status).toBe(403);
      const wrong = await p.call('contents', 'POST', '/stream-keys/verify', { as: 'ingest', body: { key: 'live_x' } });
      expect(wrong.status).toBe(404);
    });

    it('when the owner regenerates the key, then only the new key verifies; another streamer gets 403', async () => {
      const owner = streamer();
      const { channel, streamKey: oldKey } = await createChannel(owner);
      const stranger = await p.call('contents', 'POST', `/channels/${channel.id}/stream-key`, { user: streamer() });
      expect(stranger.status).toBe(403);

      const res = await p.call('contents', 'POST', `/channels/${channel.id}/stream-key`, { user: owner });
      expect(res.status).toBe(200);
      const newKey = res.body.streamKey as string;
      expect(newKey).not.toBe(oldKey);
      const verify = (key: string) =>
        p.call('contents', 'POST', '/stream-keys/verify', { as: 'ingest', body: { key } });
      expect((await verify(oldKey)).status).toBe(404);
      expect((await verify(newKey)).body.channelId).toBe(channel.id);
    });

    it('when a non-admin sets featured, then 403 and nothing changes; an admin may', async () => {
      const owner = streamer();
      const { channel } = await createChannel(owner);
      const path = `/channels/${channel.id}`;
      const denied = await p.call('contents', 'PATCH', path, { user: owner, body: { featured: true, title: 'X' } });
      expect(denied.status).toBe(403);
      expect((await p.call('contents', 'GET', path)).body).toMatchObject({ featured: false, title: 'My channel' });
      const ok = await p.call('contents', 'PATCH', path, { user: admin, body: { featured: true } });
      expect(ok).toMatchObject({ status: 200, body: { featured: true } });
    });
  });

  describe('the stream state machine', () => {
    it('when a stream goes scheduled → live → ended, then each illegal move is 409 and nothing else changes', async () => {
      const owner = streamer();
      const { channel } = await createChannel(owner, { categoryId: categories.tetris });
      const stream = await createStream(owner, channel.id, { scheduledAt: '2030-01-01T20:00:00.000Z' });
      expect(stream).toMatchObject({
        state: 'scheduled',
        ownerId: owner.id,
        channelId: channel.id,
        category: { slug: 'tetris' },
        scheduledAt: '2030-01-01T20:00:00.000Z',
        startedAt: null,
      });

      const endScheduled = await act(owner, stream.id, 'end');
      expect(endScheduled.status).toBe(409);
      expect(endScheduled.body.error.code).toBe('invalid_transition');

      const live = await act(owner, stream.id, 'start');
      expect(live.status).toBe(200);
      expect(live.body).toMatchObject({ state: 'live', endedAt: null });
      expect((await act(owner, stream.id, 'start')).body.error.code).toBe('invalid_transition');
      expect((await p.call('contents', 'GET', `/channels/${channel.id}`)).body.liveStreamId).toBe(stream.id);

      const ended = await act(owner, stream.id, 'end');
      expect(ended.status).toBe(200);
      const s = ended.body;
      expect(s.state).toBe('ended');
      expect(s.durationSeconds).toBe(Math.floor((Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000));
      for (const action of ['start', 'end'] as const) {
        const res = await act(owner, stream.id, action);
        expect(res.status).toBe(409);
        expect(res.body.error.code).toBe('invalid_transition');
      }
      expect((await p.call('contents', 'GET', `/streams/${stream.id}`)).body).toEqual(s);

      expect(await outbox('stream.started', stream.id)).toHaveLength(1);
      const [endedEvent] = await outbox('stream.ended', stream.id);
      expect(endedEvent?.data).toMatchObject({
        channelId: channel.id,
        ownerId: owner.id,
        durationSeconds: s.durationSeconds,
      });
    });

    it('when someone other than the owner or an admin starts or ends a stream, then 403 and it stays as it was', async () => {
      const owner = streamer();
      const { channel } = await createChannel(owner);
      const stream = await createStream(owner, channel.id);
      const intruder = streamer();
      const viewer = { id: randomUUID(), roles: ['viewer'] as Role[] };
      for (const who of [intruder, viewer]) {
        const res = await act(who, stream.id, 'start');
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      }
      const anonymous = await p.call('contents', 'POST', `/streams/${stream.id}/start`);
      expect(anonymous.status).toBe(401);
      const schedule = await p.call('contents', 'POST', `/channels/${channel.id}/streams`, {
        user: intruder,
        body: { title: 'Hijack' },
      });
      expect(schedule.status).toBe(403);
      expect((await p.call('contents', 'GET', `/streams/${stream.id}`)).body.state).toBe('scheduled');

      expect((await act(admin, stream.id, 'start')).body.state).toBe('live');
      expect((await act(intruder, stream.id, 'end')).status).toBe(403);
      expect((await act(admin, stream.id, 'end')).body.state).toBe('ended');
      expect((await act(owner, randomUUID(), 'start')).status).toBe(404);
    });

    it('when a second stream of a live channel starts, then 409 conflict', async () => {
      const owner = streamer();
      const { channel } = await createChannel(owner);
      const first = await createStream(owner, channel.id);
      const second = await createStream(owner, channel.id);
      expect((await act(owner, first.id, 'start')).status).toBe(200);
      const res = await act(owner, second.id, 'start');
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('conflict');
      expect((await p.call('contents', 'GET', `/streams/${second.id}`)).body.state).toBe('scheduled');
      expect(await outbox('stream.started', second.id)).toHaveLength(0);
    });

    it('when viewer counts are reported, then only internal callers may and only for live streams; the peak is kept', async () => {
      const owner = streamer();
      const { channel } = await createChannel(owner);
      const stream = await createStream(owner, channel.id);
      const put = (count: number, as = 'chat') =>
        p.call('contents', 'PUT', `/streams/${stream.id}/viewers`, { as, body: { count } });
      const notLive = await put(5);
      expect(notLive.status).toBe(409);
      expect(notLive.body.error.code).toBe('stream_not_live');
      await act(owner, stream.id, 'start');
      expect((await put(5, 'bff')).status).toBe(403);
      expect((await put(-1)).status).toBe(400);
      expect((await put(40)).body).toEqual({ id: stream.id, viewerCount: 40, peakViewerCount: 40 });
      expect((await put(12)).body).toEqual({ id: stream.id, viewerCount: 12, peakViewerCount: 40 });
      const ended = await act(owner, stream.id, 'end');
      expect(ended.body).toMatchObject({ viewerCount: 0, peakViewerCount: 40 });
      expect((await outbox('stream.ended', stream.id))[0]?.data).toMatchObject({ peakViewerCount: 40 });
    });
  });

  describe('listings and batch lookups', () => {
    const LIVE = 55;
    const liveIds: string[] = [];
    const featuredIds: string[] = [];
    const channelIds: string[] = [];
    let archiveChannel: string;
    const archiveIds: string[] = [];

    beforeAll(async () => {
      for (let i = 0; i < LIVE; i++) {
        const owner = streamer();
        const categoryId = i % 2 === 0 ? categories.minecraft : categories.tetris;
        const { channel } = await createChannel(owner, { categoryId, title: `Live ${i}` });
        channelIds.push(channel.id);
        const stream = await createStream(owner, channel.id);
        expect((await act(owner, stream.id, 'start')).status).toBe(200);
        // Some ties on purpose: the id breaks them, and the cursor must too.
        const res = await p.call('contents', 'PUT', `/streams/${stream.id}/viewers`, {
          as: 'chat',
          body: { count: 1000 + Math.floor(i / 3) },
        });
        expect(res.status).toBe(200);
        liveIds.push(stream.id);
        if (i % 10 === 0) {
          await p.call('contents', 'PATCH', `/channels/${channel.id}`, { user: admin, body: { featured: true } });
          featuredIds.push(stream.id);
        }
      }
      const owner = streamer();
      archiveChannel = (await createChannel(owner)).channel.id;
      for (let i = 0; i < 12; i++) {
        const stream = await createStream(owner, archiveChannel);
        await act(owner, stream.id, 'start');
        await act(owner, stream.id, 'end');
        archiveIds.push(stream.id);
      }
    });

    /** Follows nextCursor to the end; asserts the statement count of every page. */
    const walk = async (path: string, limit: number) => {
      const items: TestBody[] = [];
      const counts = new Set<string | null>();
      let cursor: string | null = null;
      do {
        const sep = path.includes('?') ? '&' : '?';
        const res = await p.call('contents', 'GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        counts.add(res.headers.get('livehouse-db-queries'));
        items.push(...res.body.items);
        cursor = res.body.nextCursor;
      } while (cursor);
      return { items, counts };
    };

    it('when live streams are listed, then most viewers come first, every page costs 1 statement, pages neither skip nor repeat', async () => {
      const small = await p.call('contents', 'GET', '/streams/live?limit=5');
      const large = await p.call('contents', 'GET', '/streams/live?limit=50');
      expect(small.body.items).toHaveLength(5);
      expect(large.body.items).toHaveLength(50);
      expect(small.headers.get('livehouse-db-queries')).toBe('1');
      expect(large.headers.get('livehouse-db-queries')).toBe('1');

      const { items, counts } = await walk('/streams/live', 7);
      expect(counts).toEqual(new Set(['1']));
      // Other tests may add live streams: check ours are all there, once, in order.
      const ours = items.filter((s) => liveIds.includes(s.id));
      expect(new Set(ours.map((s) => s.id)).size).toBe(LIVE);
      const viewers = items.map((s) => s.viewerCount as number);
      expect(viewers).toEqual([...viewers].sort((a, b) => b - a));
      expect(items.every((s) => s.state === 'live')).toBe(true);
    });

    it('when live streams are listed by category (slug or id), then only that category, at 1 statement a page', async () => {
      for (const query of ['category=minecraft', `categoryId=${categories.minecraft}`]) {
        const five = await p.call('contents', 'GET', `/streams/live?${query}&limit=5`);
        const fifty = await p.call('contents', 'GET', `/streams/live?${query}&limit=50`);
        expect(five.headers.get('livehouse-db-queries')).toBe('1');
        expect(fifty.headers.get('livehouse-db-queries')).toBe('1');
        const { items } = await walk(`/streams/live?${query}`, 8);
        expect(items.every((s) => s.category?.slug === 'minecraft')).toBe(true);
        expect(items.filter((s) => liveIds.includes(s.id))).toHaveLength(Math.ceil(LIVE / 2));
      }
      const unknown = await p.call('contents', 'GET', '/streams/live?category=no-such-game');
      expect(unknown.status).toBe(404);
    });

    it('when featured streams are listed, then only live streams of featured channels, at 1 statement a page', async () => {
      const five = await p.call('contents', 'GET', '/streams/featured?limit=5');
      const fifty = await p.call('contents', 'GET', '/streams/featured?limit=50');
      expect(five.headers.get('livehouse-db-queries')).toBe('1');
      expect(fifty.headers.get('livehouse-db-queries')).toBe('1');
      const ids = fifty.body.items.map((s: TestBody) => s.id);
      expect(ids.filter((id: string) => liveIds.includes(id)).sort()).toEqual([...featuredIds].sort());
      expect(five.body.items).toEqual(fifty.body.items.slice(0, 5));
    });

    it("when a channel's archives are listed, then ended streams newest first, at a constant statement count", async () => {
      const five = await p.call('contents', 'GET', `/channels/${archiveChannel}/archives?limit=5`);
      const fifty = await p.call('contents', 'GET', `/channels/${archiveChannel}/archives?limit=50`);
      expect(five.headers.get('livehouse-db-queries')).toBe('1');
      expect(fifty.headers.get('livehouse-db-queries')).toBe('1');
      const { items, counts } = await walk(`/channels/${archiveChannel}/archives`, 5);
      expect(counts).toEqual(new Set(['1']));
      expect(items.map((s) => s.id)).toEqual([...archiveIds].reverse());
      expect(items.every((s) => s.state === 'ended' && s.durationSeconds !== null)).toBe(true);
      expect((await p.call('contents', 'GET', `/channels/${randomUUID()}/archives`)).status).toBe(404);
    });

    it('when up to 100 streams or channels are looked up by id, then it costs 1 statement whatever the count', async () => {
      for (const [path, ids] of [
        ['/streams', liveIds],
        ['/channels', channelIds],
      ] as const) {
        const few = await p.call('contents', 'GET', `${path}?ids=${ids.slice(0, 5).join(',')}`);
        const many = await p.call('contents', 'GET', `${path}?ids=${[...ids.slice(0, 50), randomUUID()].join(',')}`);
        expect(few.body.items).toHaveLength(5);
        expect(many.body.items).toHaveLength(50);
        expect(few.headers.get('livehouse-db-queries')).toBe('1');
        expect(many.headers.get('livehouse-db-queries')).toBe('1');
        const tooMany = Array.from({ length: 101 }, () => randomUUID()).join(',');
        const res = await p.call('contents', 'GET', `${path}?ids=${tooMany}`);
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('validation_failed');
      }
    });

    it('when a forged cursor is sent, then 400 bad_request', async () => {
      const forged = [
        Buffer.from(JSON.stringify([10, 'not-a-uuid'])).toString('base64url'),
        Buffer.from(JSON.stringify(['x', randomUUID()])).toString('base64url'),
        'garbage',
      ];
      for (const cursor of forged) {
        for (const path of ['/streams/live', `/channels/${archiveChannel}/archives`]) {
          const res = await p.call('contents', 'GET', `${path}?cursor=${cursor}`);
          expect(res.status).toBe(400);
          expect(res.body.error.code).toBe('bad_request');
        }
      }
    });
  });

  it('when a stream is scheduled with any malformed body, then 4xx in the error format and no stream is added', async () => {
    const owner = streamer();
    const { channel } = await createChannel(owner);
    const count = async () =>
      (await db.selectFrom('streams').select(db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    const before = Number(await count());
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record(
            {
              title: fc.oneof(fc.string({ maxLength: 200 }), fc.integer()),
              scheduledAt: fc.string(),
              extra: fc.anything(),
            },
            { requiredKeys: [] },
          ),
        ),
        async (body) => {
          // What the server receives: JSON drops undefined fields.
          const json = JSON.stringify(body);
          const sent: unknown = json === undefined ? undefined : JSON.parse(json);
          const valid =
            typeof sent === 'object' &&
            sent !== null &&
            !Array.isArray(sent) &&
            Object.keys(sent).length === 1 &&
            typeof (sent as { title?: unknown }).title === 'string' &&
            (sent as { title: string }).title.length >= 1 &&
            (sent as { title: string }).title.length <= 140;
          fc.pre(!valid);
          const res = await p.call('contents', 'POST', `/channels/${channel.id}/streams`, {
            user: owner,
            body: json ?? 'undefined',
          });
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(typeof res.body.error.code).toBe('string');
          expect(typeof res.body.error.requestId).toBe('string');
        },
      ),
      { numRuns: 60 },
    );
    expect(Number(await count())).toBe(before);
  });
});
