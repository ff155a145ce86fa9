import { randomBytes, randomUUID } from 'node:crypto';
import { contentsService } from '@livehouse/contents';
import { InProcessEventBus, RedisEventBus } from '@livehouse/kit';
import { dbKinds, redisUrl, startTestPlatform, type TestBody, type TestPlatform } from '@livehouse/kit/testing';
import { userService } from '@livehouse/user';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TimelineDatabase } from '../src/db.ts';
import { timelineService } from '../src/index.ts';

const THRESHOLD = 3;

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A small world on a platform: users, their channels, follows and streams, all through the real APIs. */
function world(p: () => TestPlatform) {
  const user = async () => {
    const id = randomUUID();
    const res = await p().call('user', 'PUT', `/users/${id}`, {
      as: 'auth',
      body: { handle: `u${randomBytes(6).toString('hex')}` },
    });
    expect(res.status).toBe(200);
    return id;
  };
  const streamer = async () => {
    const id = await user();
    const res = await p().call('contents', 'POST', '/channels', {
      user: { id, roles: ['streamer'] },
      body: { title: 'my channel' },
    });
    expect(res.status).toBe(201);
    return { id, channelId: res.body.channel.id as string };
  };
  const follow = async (follower: string, followee: string, method: 'PUT' | 'DELETE' = 'PUT') => {
    const res = await p().call('user', method, `/users/${follower}/following/${followee}`, { user: { id: follower } });
    expect(res.status).toBe(200);
  };
  const goLive = async (s: { id: string; channelId: string }, title: string) => {
    const created = await p().call('contents', 'POST', `/channels/${s.channelId}/streams`, {
      user: { id: s.id, roles: ['streamer'] },
      body: { title },
    });
    expect(created.status).toBe(201);
    const started = await p().call('contents', 'POST', `/streams/${created.body.id}/start`, {
      user: { id: s.id, roles: ['streamer'] },
    });
    expect(started.status).toBe(200);
    return created.body.id as string;
  };
  const end = async (s: { id: string }, streamId: string) => {
    const res = await p().call('contents', 'POST', `/streams/${streamId}/end`, {
      user: { id: s.id, roles: ['streamer'] },
    });
    expect(res.status).toBe(200);
  };
  const timeline = async (id: string, query = '') =>
    p().call('timeline', 'GET', `/users/${id}/timeline${query}`, { user: { id } });
  const streamIds = async (id: string) =>
    ((await timeline(id)).body.items as TestBody[]).map((i: { streamId: string }) => i.streamId);
  return { user, streamer, follow, goLive, end, timeline, streamIds };
}

describe.each(dbKinds)('timeline on %s', (kind) => {
  let p: TestPlatform;
  const bus = new InProcessEventBus();
  const w = world(() => p);
  const db = () => p.services.get('timeline')?.built.database?.db as Kysely<TimelineDatabase>;

  beforeAll(async () => {
    p = await startTestPlatform([userService, contentsService, timelineService], kind, {
      bus,
      config: (name) => (name === 'timeline' ? { timeline: { fanoutThreshold: THRESHOLD } } : {}),
    });
  });
  afterAll(() => p?.close());

  it('when a user follows a channel and it goes live, then the stream is in the follower’s timeline (fan-out on write), live until it ends, gone after an unfollow', async () => {
    const s = await w.streamer();
    const [fan, stranger] = [await w.user(), await w.user()];
    await w.follow(fan, s.id);
    await until(
      'timeline has the follow',
      () => db().selectFrom('follows').selectAll().where('follower_id', '=', fan).execute(),
      (r) => r.length === 1,
    );
    const streamId = await w.goLive(s, 'speedrun night');

    const page = await until(
      'the stream is in the timeline',
      () => w.timeline(fan),
      (r) => r.body.items.length === 1,
    );
    expect(page.status).toBe(200);
    expect(page.body.items[0]).toMatchObject({
      type: 'stream.started',
      streamId,
      channelId: s.channelId,
      ownerId: s.id,
      title: 'speedrun night',
      live: true,
      endedAt: null,
    });
    expect(page.body.nextCursor).toBeNull();
    expect(page.headers.get('livehouse-db-queries')).toBe('1');
    // Written once per follower: an ordinary channel.
    const entries = await db().selectFrom('timeline_entries').selectAll().where('user_id', '=', fan).execute();
    expect(entries).toHaveLength(1);
    expect((await w.timeline(stranger)).body.items).toEqual([]);

    await w.end(s, streamId);
    await until(
      'the item shows the end',
      () => w.timeline(fan),
      (r) => r.body.items[0]?.live === false,
    );
    // Unfollowing takes the channel's entries out again.
    await w.follow(fan, s.id, 'DELETE');
    await until(
      'the unfollower’s timeline is empty',
      () => w.streamIds(fan),
      (ids) => ids.length === 0,
    );
  });

  it('when a channel has at least fanoutThreshold followers, then its post is stored once and merged into each follower’s timeline at read time', async () => {
    const big = await w.streamer();
    const fans = [await w.user(), await w.user(), await w.user()];
    for (const fan of fans) await w.follow(fan, big.id);
    await until(
      'timeline has the follows',
      () => db().selectFrom('follows').selectAll().where('followee_id', '=', big.id).execute(),
      (r) => r.length === THRESHOLD,
    );
    const streamId = await w.goLive(big, 'big show');

    for (const fan of fans)
      await until(
        `fan ${fan} sees the stream`,
        () => w.streamIds(fan),
        (ids) => ids.includes(streamId),
      );
    const post = await db().selectFrom('posts').selectAll().where('stream_id', '=', streamId).executeTakeFirstOrThrow();
    expect(post.fanned_out).toBe(false);
    const copies = await db().selectFrom('timeline_entries').selectAll().where('post_id', '=', post.id).execute();
    expect(copies).toEqual([]);
    const read = await w.timeline(fans[0] as string);
    expect(read.headers.get('livehouse-db-queries')).toBe('1');

    // Unfollowing hides it; a new follower sees it at once (read path, no copy needed).
    await w.follow(fans[2] as string, big.id, 'DELETE');
    await until(
      'the unfollower no longer sees it',
      () => w.streamIds(fans[2] as string),
      (ids) => !ids.includes(streamId),
    );
    const late = await w.user();
    await w.follow(late, big.id);
    await until(
      'a new follower sees it',
      () => w.streamIds(late),
      (ids) => ids.includes(streamId),
    );
  });

  it('when a timeline merges fanned-out and big-channel posts, then pages come newest first, each item once, and the cursor walks them all', async () => {
    const reader = await w.user();
    const small = await w.streamer();
    const big = await w.streamer();
    const extraFans = [await w.user(), await w.user()];
    for (const f of [reader, ...extraFans]) await w.follow(f, big.id);
    await w.follow(reader, small.id);
    await until(
      'timeline has the follows',
      () => db().selectFrom('follows').selectAll().where('follower_id', '=', reader).execute(),
      (r) => r.length === 2,
    );
    await until(
      'big has its followers',
      () => db().selectFrom('follows').selectAll().where('followee_id', '=', big.id).execute(),
      (r) => r.length === THRESHOLD,
    );

    const started: string[] = [];
    for (let i = 0; i < 3; i++) {
      for (const s of [small, big]) {
        const id = await w.goLive(s, `stream ${i}`);
        started.push(id);
        await w.end(s, id);
      }
    }
    await until(
      'all six are there',
      () => w.streamIds(reader),
      (ids) => ids.length === 6,
    );

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: TestBody } = await w.timeline(
        reader,
        `?limit=4${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((i: { streamId: string }) => i.streamId));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen).toEqual([...started].reverse());
    // Both paths fed it: three posts copied to the reader, three merged at read time.
    const copied = await db().selectFrom('timeline_entries').selectAll().where('user_id', '=', reader).execute();
    expect(copied).toHaveLength(3);
  });

  it('when someone else reads a user’s timeline, then 403, while an admin or a service without a user may; a forged cursor is 400', async () => {
    const [a, b] = [await w.user(), await w.user()];
    const other = await p.call('timeline', 'GET', `/users/${a}/timeline`, { user: { id: b } });
    expect(other.status).toBe(403);
    const admin = await p.call('timeline', 'GET', `/users/${a}/timeline`, { user: { id: b, roles: ['admin'] } });
    expect(admin.status).toBe(200);
    const service = await p.call('timeline', 'GET', `/users/${a}/timeline`, { as: 'bff' });
    expect(service.status).toBe(200);
    for (const cursor of [
      'garbage',
      Buffer.from('["x","y"]').toString('base64url'),
      Buffer.from('[1,"not-a-uuid"]').toString('base64url'),
    ]) {
      const res = await p.call('timeline', 'GET', `/users/${a}/timeline?cursor=${cursor}`, { user: { id: a } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
    }
  });

  it('when an event is delivered again, then the timeline applies it once', async () => {
    const s = await w.streamer();
    const fan = await w.user();
    await w.follow(fan, s.id);
    const streamId = await w.goLive(s, 'once');
    await until(
      'the stream is in the timeline',
      () => w.streamIds(fan),
      (ids) => ids.includes(streamId),
    );
    const post = await db().selectFrom('posts').selectAll().where('stream_id', '=', streamId).executeTakeFirstOrThrow();
    const entries = () =>
      db()
        .selectFrom('timeline_entries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
        .then((r) => Number(r.n));
    const before = await entries();
    // The same event id again, as a relay that crashed before marking it would send it.
    let copies = 0;
    const probe = await bus.subscribe({
      group: 'probe',
      handle: async (e) => {
        if (e.id === post.id) copies++;
      },
    });
    await bus.publish([
      {
        id: post.id,
        type: 'stream.started',
        source: 'contents',
        key: post.stream_id,
        occurredAt: new Date().toISOString(),
        data: {
          streamId: post.stream_id,
          channelId: post.channel_id,
          ownerId: post.owner_id,
          title: 'a changed title',
          categoryId: null,
          startedAt: new Date().toISOString(),
        },
      },
    ]);
    await until(
      'the redelivery went round',
      async () => copies,
      (n) => n === 2,
    );
    await probe.stop();
    // timeline's group reads in order: a follow written now is applied after the duplicate.
    const [x, y] = [await w.user(), await w.user()];
    await w.follow(x, y);
    await until(
      'a later event is applied',
      () => db().selectFrom('follows').selectAll().where('follower_id', '=', x).execute(),
      (r) => r.length === 1,
    );
    expect(await entries()).toBe(before);
    // Recognised as a duplicate by processed_events, not merely absorbed by the handler.
    const metrics = await p.services
      .get('timeline')
      ?.built.metrics.registry.getSingleMetricAsString('events_consumed_total');
    expect(metrics).toMatch(/events_consumed_total\{[^}]*type="stream.started"[^}]*outcome="duplicate"[^}]*\} 1/);
    const again = await db().selectFrom('posts').selectAll().where('id', '=', post.id).executeTakeFirstOrThrow();
    expect(again.title).toBe(post.title);
  });

  describe.skipIf(!redisUrl)('over Redis Streams', () => {
    let r: TestPlatform;
    let bus: RedisEventBus;
    const rw = world(() => r);
    beforeAll(async () => {
      bus = new RedisEventBus({
        url: redisUrl as string,
        prefix: `lhtest:${randomBytes(4).toString('hex')}:`,
        blockMs: 200,
      });
      r = await startTestPlatform([userService, contentsService, timelineService], kind, { bus });
    });
    afterAll(async () => {
      await r?.close();
      await bus?.destroy();
      await bus?.close();
    });

    it('when a user follows a channel and it goes live, then the stream reaches the follower’s timeline through Redis', async () => {
      const s = await rw.streamer();
      const fan = await rw.user();
      await rw.follow(fan, s.id);
      const streamId = await rw.goLive(s, 'over redis');
      await until(
        'the stream is in the timeline',
        () => rw.streamIds(fan),
        (ids) => ids.includes(streamId),
      );
    });
  });
});
