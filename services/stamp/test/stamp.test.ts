import { randomUUID } from 'node:crypto';
import { contentsService } from '@livehouse/contents';
import { dbKinds, startTestPlatform, type TestBody, type TestPlatform } from '@livehouse/kit/testing';
import { pointService } from '@livehouse/point';
import fc from 'fast-check';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StampDatabase } from '../src/db.ts';
import { stampService } from '../src/index.ts';

type Role = 'viewer' | 'streamer' | 'admin';
type User = { id: string; roles: Role[] };
const admin: User = { id: randomUUID(), roles: ['admin'] };
const viewer = (): User => ({ id: randomUUID(), roles: ['viewer'] });
const FREE_MAX = 3;

describe.each(dbKinds)('stamp on %s', (kind) => {
  let p: TestPlatform;
  let db: Kysely<StampDatabase>;
  let catalog: { version: string; items: TestBody[] };
  let free: TestBody;
  let paid: TestBody; // 300 points
  const streamer: User = { id: randomUUID(), roles: ['streamer'] };
  let channelId: string;
  let liveStream: string;
  let scheduledStream: string;

  const send = (user: User, streamId: string, stampId: unknown, key?: string) =>
    p.call('stamp', 'POST', `/streams/${streamId}/stamps`, {
      user,
      body: { stampId },
      headers: key === undefined ? {} : { 'idempotency-key': key },
    });
  const balance = async (userId: string) =>
    (await p.call('point', 'GET', `/wallets/${userId}`, { as: 'stamp' })).body.balance as number;
  const buy = async (user: User, amount: number) => {
    const res = await p.call('point', 'POST', '/purchases', {
      as: 'payment',
      headers: { 'idempotency-key': randomUUID() },
      body: { userId: user.id, paymentId: randomUUID(), amount },
    });
    expect(res.status).toBe(201);
  };
  const count = async (table: 'sent_stamps' | 'outbox') =>
    Number((await db.selectFrom(table).select(db.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  /** A channel with a scheduled stream and a live one (its first). */
  const channelWithStreams = async (owner: User) => {
    const ch = await p.call('contents', 'POST', '/channels', { user: owner, body: { title: `ch ${owner.id}` } });
    expect(ch.status).toBe(201);
    const id = ch.body.channel.id as string;
    const mk = async () =>
      (await p.call('contents', 'POST', `/channels/${id}/streams`, { user: owner, body: { title: 's' } })).body.id;
    const live = await mk();
    expect((await p.call('contents', 'POST', `/streams/${live}/start`, { user: owner })).status).toBe(200);
    return { channelId: id, live: live as string, scheduled: (await mk()) as string };
  };

  beforeAll(async () => {
    p = await startTestPlatform([pointService, contentsService, stampService], kind, {
      config: (name) => (name === 'stamp' ? { stamp: { freeStampLimit: { max: FREE_MAX, windowMs: 60_000 } } } : {}),
    });
    db = p.services.get('stamp')!.built.database!.db as Kysely<StampDatabase>;
    ({ channelId, live: liveStream, scheduled: scheduledStream } = await channelWithStreams(streamer));
    catalog = (await p.call('stamp', 'GET', '/catalog')).body;
    free = catalog.items.find((s) => s.price === 0);
    paid = catalog.items.find((s) => s.price === 300);
  });
  afterAll(() => p?.close());

  describe('the catalog', () => {
    it('when the service has migrated, then the catalog holds 500 stamps: 200 free, 300 paid, all global', () => {
      expect(catalog.items).toHaveLength(500);
      expect(new Set(catalog.items.map((s) => s.id)).size).toBe(500);
      expect(new Set(catalog.items.map((s) => s.name)).size).toBe(500);
      expect(catalog.items.filter((s) => s.price === 0)).toHaveLength(200);
      expect(catalog.items.every((s) => s.channelId === null && s.imageUrl.startsWith('https://'))).toBe(true);
    });

    it('when the client sends back the ETag, then 304 with no body for one statement; the version matches', async () => {
      const first = await p.call('stamp', 'GET', '/catalog');
      const etag = first.headers.get('etag')!;
      expect(etag).toBe(`"${first.body.version}"`);
      for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const res = await p.call('stamp', 'GET', '/catalog', { headers: { 'if-none-match': ifNoneMatch } });
        expect(res.status).toBe(304);
        expect(res.body).toBeUndefined();
        expect(res.headers.get('livehouse-db-queries')).toBe('1');
      }
      const stale = await p.call('stamp', 'GET', '/catalog', { headers: { 'if-none-match': '"old"' } });
      expect(stale.status).toBe(200);
      const version = await p.call('stamp', 'GET', '/catalog/version');
      expect(version.body).toEqual({ version: first.body.version });
    });

    it('when an admin adds a channel-only stamp, then the version changes and it works only on that channel', async () => {
      const before = await p.call('stamp', 'GET', '/catalog');
      const body = {
        name: 'Streamer Special',
        imageUrl: 'https://cdn.example/special.png',
        category: 'channel',
        price: 0,
      };
      expect((await p.call('stamp', 'POST', '/stamps', { user: viewer(), body: { ...body, channelId } })).status).toBe(
        403,
      );
      const unknownChannel = await p.call('stamp', 'POST', '/stamps', {
        user: admin,
        body: { ...body, channelId: randomUUID() },
      });
      expect(unknownChannel.status).toBe(404);
      const created = await p.call('stamp', 'POST', '/stamps', { user: admin, body: { ...body, channelId } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ ...body, channelId });

      const after = await p.call('stamp', 'GET', '/catalog', {
        headers: { 'if-none-match': before.headers.get('etag')! },
      });
      expect(after.status).toBe(200);
      expect(after.body.version).not.toBe(before.body.version);
      expect(after.body.items).toHaveLength(501);
      expect(after.body.items.at(-1).id).toBe(created.body.id);

      const other = await channelWithStreams({ id: randomUUID(), roles: ['streamer'] });
      const sender = viewer();
      const elsewhere = await send(sender, other.live, created.body.id, randomUUID());
      expect(elsewhere.status).toBe(403);
      expect((await send(sender, liveStream, created.body.id, randomUUID())).status).toBe(201);
    });
  });

  describe('sending free stamps', () => {
    it('when a free stamp is sent twice with one key, then it is recorded once and the retry gets the same answer', async () => {
      const user = viewer();
      const [sentBefore, eventsBefore] = [await count('sent_stamps'), await count('outbox')];
      const key = randomUUID();
      const first = await send(user, liveStream, free.id, key);
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({
        streamId: liveStream,
        stampId: free.id,
        senderId: user.id,
        receiverId: streamer.id,
        price: 0,
        transferId: null,
        balance: null,
      });
      const retry = await send(user, liveStream, free.id, key);
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      // Replay check, stamp, sent row, outbox; a replay is the first lookup alone.
      expect(first.headers.get('livehouse-db-queries')).toBe('4');
      expect(retry.headers.get('livehouse-db-queries')).toBe('1');
      expect(await count('sent_stamps')).toBe(sentBefore + 1);
      expect(await count('outbox')).toBe(eventsBefore + 1);

      const reused = await send(user, liveStream, catalog.items[1].id, key);
      expect(reused.status).toBe(422);
      expect(reused.body.error.code).toBe('idempotency_key_reused');
    });

    it(`when a user sends more than ${FREE_MAX} free stamps in the window, then 429 rate_limited with Retry-After`, async () => {
      const user = viewer();
      const keys = Array.from({ length: FREE_MAX }, () => randomUUID());
      for (const key of keys) expect((await send(user, liveStream, free.id, key)).status).toBe(201);
      const limited = await send(user, liveStream, free.id, randomUUID());
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // Retries of sends already made are answers, not new sends: never limited.
      expect((await send(user, liveStream, free.id, keys[0])).status).toBe(201);
      // Another user has their own budget.
      expect((await send(viewer(), liveStream, free.id, randomUUID())).status).toBe(201);
    });

    it('when the stream is not live, unknown, or the stamp or key is missing, then 4xx and nothing is recorded', async () => {
      const user = viewer();
      const sentBefore = await count('sent_stamps');
      const scheduled = await send(user, scheduledStream, free.id, randomUUID());
      expect(scheduled.status).toBe(409);
      expect(scheduled.body.error.code).toBe('stream_not_live');
      expect((await send(user, randomUUID(), free.id, randomUUID())).status).toBe(404);
      expect((await send(user, liveStream, randomUUID(), randomUUID())).status).toBe(404);
      const noKey = await send(user, liveStream, free.id);
      expect(noKey.status).toBe(400);
      expect(noKey.body.error.code).toBe('idempotency_key_required');
      const anonymous = await p.call('stamp', 'POST', `/streams/${liveStream}/stamps`, {
        body: { stampId: free.id },
        headers: { 'idempotency-key': randomUUID() },
      });
      expect(anonymous.status).toBe(401);
      expect(await count('sent_stamps')).toBe(sentBefore);
    });
  });

  describe('sending paid stamps', () => {
    it('when a paid send is retried with the same Idempotency-Key, then the sender is charged once', async () => {
      const user = viewer();
      await buy(user, 1000);
      const streamerBefore = await balance(streamer.id);
      const key = randomUUID();
      const first = await send(user, liveStream, paid.id, key);
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ price: 300, balance: 700, receiverId: streamer.id });
      expect(first.body.transferId).toEqual(expect.any(String));
      // As a free send, plus the supporters upsert.
      expect(first.headers.get('livehouse-db-queries')).toBe('5');

      // Sequential and concurrent retries.
      const retries = [await send(user, liveStream, paid.id, key)];
      retries.push(...(await Promise.all(Array.from({ length: 4 }, () => send(user, liveStream, paid.id, key)))));
      for (const r of retries) {
        expect(r.status).toBe(201);
        expect(r.body).toEqual(first.body);
      }
      expect(await balance(user.id)).toBe(700);
      expect(await balance(streamer.id)).toBeGreaterThan(streamerBefore);
      const streamerAfterOne = await balance(streamer.id);

      // Concurrent first sends with one new key: still one charge.
      const key2 = randomUUID();
      const burst = await Promise.all(Array.from({ length: 5 }, () => send(user, liveStream, paid.id, key2)));
      expect(burst.every((r) => r.status === 201)).toBe(true);
      expect(new Set(burst.map((r) => r.body.transferId)).size).toBe(1);
      expect(await balance(user.id)).toBe(400);
      expect(await balance(streamer.id)).toBe(streamerAfterOne + (streamerAfterOne - streamerBefore));
      const rows = await db.selectFrom('sent_stamps').select('id').where('sender_id', '=', user.id).execute();
      expect(rows).toHaveLength(2);
    });

    it('when a paid send carries the longest key a client may choose (100), then point takes the derived key once', async () => {
      const user = viewer();
      await buy(user, 1000);
      // stamp:<sender>:<key> is 143 characters: more than the one 100-character rule lets point take as it is.
      const key = `${randomUUID()}:${randomUUID()}:${randomUUID()}`.slice(0, 100);
      expect(key).toHaveLength(100);
      const sends = [await send(user, liveStream, paid.id, key), await send(user, liveStream, paid.id, key)];
      expect(sends.map((r) => r.status)).toEqual([201, 201]);
      expect(sends[1]?.body).toEqual(sends[0]?.body);
      expect(await balance(user.id)).toBe(700);
    });

    it('when the sender lacks points or pays themself, then 409/400 and nothing is recorded', async () => {
      const user = viewer();
      await buy(user, 100);
      const sentBefore = await count('sent_stamps');
      const poor = await send(user, liveStream, paid.id, randomUUID());
      expect(poor.status).toBe(409);
      expect(poor.body.error.code).toBe('insufficient_points');
      const self = await send(streamer, liveStream, paid.id, randomUUID());
      expect(self.status).toBe(400);
      expect(await balance(user.id)).toBe(100);
      expect(await count('sent_stamps')).toBe(sentBefore);
      const ranking = await p.call('stamp', 'GET', `/streams/${liveStream}/supporters?limit=100`);
      expect(ranking.body.items.map((s: TestBody) => s.userId)).not.toContain(user.id);
    });

    it('when several users send paid stamps, then the supporters ranking sums their points, most first, in 1 statement', async () => {
      const { live } = await channelWithStreams({ id: randomUUID(), roles: ['streamer'] });
      const cheap = catalog.items.find((s) => s.price === 10);
      const [a, b, c] = [viewer(), viewer(), viewer()];
      for (const u of [a, b, c]) await buy(u, 2000);
      const plan: [User, TestBody][] = [
        [a, cheap],
        [b, paid],
        [a, paid],
        [c, cheap],
        [b, paid],
        [c, free],
      ];
      for (const [u, s] of plan) expect((await send(u, live, s.id, randomUUID())).status).toBe(201);
      const res = await p.call('stamp', 'GET', `/streams/${live}/supporters?limit=10`);
      expect(res.status).toBe(200);
      expect(res.headers.get('livehouse-db-queries')).toBe('1');
      expect(res.body.items).toEqual([
        { userId: b.id, points: 600, stamps: 2 },
        { userId: a.id, points: 310, stamps: 2 },
        { userId: c.id, points: 10, stamps: 1 },
      ]);
      const top1 = await p.call('stamp', 'GET', `/streams/${live}/supporters?limit=1`);
      expect(top1.body.items).toEqual([res.body.items[0]]);
      expect(top1.headers.get('livehouse-db-queries')).toBe('1');
    });
  });

  it('when the send-stamp body or key is malformed, then 4xx in the error format and nothing changes', async () => {
    const user = viewer();
    await buy(user, 5000);
    const [sentBefore, eventsBefore] = [await count('sent_stamps'), await count('outbox')];
    const realIds = catalog.items.slice(0, 50).map((s) => s.id as string);
    const body = fc.oneof(
      fc.anything(),
      // Unknown stamps, wrong types, and real stamps with an extra field: never a valid send.
      fc.record({ stampId: fc.oneof(fc.uuid(), fc.string(), fc.integer(), fc.constant(null)) }),
      fc.record({ stampId: fc.constantFrom(...realIds), extra: fc.jsonValue() }),
      fc.record({ stampid: fc.constantFrom(...realIds) }),
    );
    const key = fc.oneof(
      fc.constant(undefined),
      fc.uuid(),
      fc.string({ minLength: 101, maxLength: 120 }),
      fc.constantFrom('', 'has space', 'ünïcode', 'a/b'),
    );
    await fc.assert(
      fc.asyncProperty(body, key, async (b, k) => {
        const res = await p.call('stamp', 'POST', `/streams/${liveStream}/stamps`, {
          user,
          body: JSON.stringify(b) ?? 'undefined',
          headers: k === undefined ? {} : { 'idempotency-key': k },
        });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
        expect(typeof res.body.error.requestId).toBe('string');
      }),
      { numRuns: 80 },
    );
    expect(await count('sent_stamps')).toBe(sentBefore);
    expect(await count('outbox')).toBe(eventsBefore);
    expect(await balance(user.id)).toBe(5000);
  });
});
