import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '@livehouse/contracts';
import { depsOf } from '@livehouse/kit';
import { startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { chatService } from '../src/index.ts';
import {
  chatSetups,
  connect,
  contentsService,
  liveStream,
  startChat,
  streamer,
  type TestClient,
  viewer,
} from './helpers.ts';

describe.each(chatSetups)('chat on $kind (redis: $redis)', (setup) => {
  let p: TestPlatform;
  const hub = () => depsOf(p.services.get('chat')!.built, chatService).hub;

  beforeAll(async () => {
    p = await startChat(setup, { maxFramesPerSecond: 20, sendBufferBytes: 256 * 1024, sendHighWaterBytes: 16 * 1024 });
  });
  afterAll(() => p?.close());

  describe('posting and reading', () => {
    it('when users post, then every client (anonymous readers too) gets each message once, in one order, with consecutive ids', async () => {
      const { streamId } = await liveStream(p);
      const alice = await connect(p, streamId, viewer());
      const bob = await connect(p, streamId, viewer());
      const reader = await connect(p, streamId);
      expect(reader.frames[0]).toMatchObject({ type: 'welcome', user: null, settings: { rateLimitMax: 3 } });

      const acks = await Promise.all([alice.say('one'), bob.say('two'), alice.say('three'), bob.say('four')]);
      expect(acks.map((a) => a.type)).toEqual(['ack', 'ack', 'ack', 'ack']);
      expect(acks.map((a) => a.id as number).sort()).toEqual([1, 2, 3, 4]);

      for (const c of [alice, bob, reader]) await c.until(() => c.items.length === 4, 15_000, '4 items');
      const seen = (c: TestClient) => c.items.map((i) => `${i.id}:${i.text}`);
      expect(seen(bob)).toEqual(seen(alice));
      expect(seen(reader)).toEqual(seen(alice));
      expect(alice.items.map((i) => i.id)).toEqual([1, 2, 3, 4]);
      for (const a of acks) expect(alice.items.find((i) => i.id === a.id)?.at).toBe(a.at);
    });

    it('when an anonymous reader sends, then an unauthorized error frame answers and nothing is posted', async () => {
      const { streamId } = await liveStream(p);
      const reader = await connect(p, streamId);
      const answer = await reader.say('hi');
      expect(answer).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect((await p.call('chat', 'GET', `/rooms/${streamId}`)).body.lastId).toBe(0);
    });

    it('when a message is empty, too long or not one line of text, then validation_failed; 500 emoji are fine', async () => {
      const { streamId } = await liveStream(p);
      const c = await connect(p, streamId, viewer());
      for (const text of ['   ', 'a'.repeat(501), 'two\nlines', 'bell\u0007', '\ud800lone surrogate']) {
        expect(await c.say(text)).toMatchObject({ type: 'error', code: 'validation_failed' });
      }
      expect(await c.say('😀'.repeat(500))).toMatchObject({ type: 'ack' });
    });

    it('when a client joins, then it gets the last 50 visible items; with ?since it gets exactly what came after', async () => {
      const { streamId, owner } = await liveStream(p);
      const o = await connect(p, streamId, owner);
      const room = await hub().room(streamId);
      const caller = { service: 'bff', user: { id: owner.id, roles: owner.roles } };
      for (let i = 1; i <= 60; i++) await hub().post(room, caller, `m${i}`);
      await o.until(() => o.items.length === 60, 15_000, '60 items');

      const fresh = await connect(p, streamId, viewer());
      const history = fresh.frames.find((f) => f.type === 'history')!;
      expect(history.resumed).toBe(false);
      expect((history.items as { text: string }[]).map((i) => i.text)).toEqual(
        Array.from({ length: 50 }, (_, i) => `m${i + 11}`),
      );

      const resumed = await connect(p, streamId, viewer(), { since: 55 });
      const after = resumed.frames.find((f) => f.type === 'history')!;
      expect(after.resumed).toBe(true);
      expect((after.items as { id: number }[]).map((i) => i.id)).toEqual([56, 57, 58, 59, 60]);

      const upToDate = await connect(p, streamId, viewer(), { since: 60 });
      expect(upToDate.frames.find((f) => f.type === 'history')).toMatchObject({ resumed: true, items: [] });
    });

    it('when the stream does not exist, the token is missing or since is not a number, then the upgrade is refused', async () => {
      const base = p.url('chat').replace(/^http/, 'ws');
      const refused = (url: string, headers: Record<string, string>) =>
        new Promise<number>((ok) => {
          const ws = new WebSocket(url, { headers });
          ws.on('unexpected-response', (_req, res) => ok(res.statusCode ?? 0));
          ws.on('open', () => ok(101));
          ws.on('error', () => {});
        });
      const auth = { authorization: `Bearer ${await p.token('bff')}` };
      const { streamId } = await liveStream(p);
      expect(await refused(`${base}/rooms/${streamId}/ws`, {})).toBe(401);
      expect(await refused(`${base}/rooms/${streamId}/ws`, { authorization: 'Bearer forged' })).toBe(401);
      expect(await refused(`${base}/rooms/${randomUUID()}/ws`, auth)).toBe(404);
      expect(await refused(`${base}/rooms/${streamId}/ws?since=abc`, auth)).toBe(400);
      expect(await refused(`${base}/rooms/not-a-uuid/ws`, auth)).toBe(400);
    });
  });

  describe('limits', () => {
    it('when a user sends a 4th message within 2 s, then rate_limited with a 10 s mute; the channel owner is exempt', async () => {
      const { streamId, owner } = await liveStream(p);
      const c = await connect(p, streamId, viewer());
      // Sent together (frames are handled in order), so a slow machine cannot stretch them past the window.
      const answers = await Promise.all(['1', '2', '3', '4'].map((text) => c.say(text)));
      expect(answers.slice(0, 3).map((a) => a.type)).toEqual(['ack', 'ack', 'ack']);
      const fourth = answers[3] as (typeof answers)[number];
      expect(fourth).toMatchObject({ type: 'error', code: 'rate_limited' });
      expect(fourth.retryAfterMs).toBeGreaterThan(9000);
      expect(fourth.retryAfterMs).toBeLessThanOrEqual(10_000);
      expect(await c.say('5')).toMatchObject({ type: 'error', code: 'rate_limited' });

      const o = await connect(p, streamId, owner);
      const owners = await Promise.all(Array.from({ length: 8 }, (_, i) => o.say(`owner ${i}`)));
      expect(owners.every((a) => a.type === 'ack')).toBe(true);
    });

    it('when the owner turns on slow mode, then clients learn it and a second message within N s is refused', async () => {
      const { streamId, channelId, owner } = await liveStream(p);
      const c = await connect(p, streamId, viewer());
      const denied = await p.call('chat', 'PUT', `/channels/${channelId}/chat-settings`, {
        user: viewer(),
        body: { slowModeSeconds: 5 },
      });
      expect(denied.status).toBe(403);
      const set = await p.call('chat', 'PUT', `/channels/${channelId}/chat-settings`, {
        user: owner,
        body: { slowModeSeconds: 5 },
      });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ slowModeSeconds: 5, rateLimitMax: 3 });
      const item = await c.until(() => c.items.find((i) => i.type === 'settings'));
      expect(item.settings).toMatchObject({ slowModeSeconds: 5 });

      expect(await c.say('first')).toMatchObject({ type: 'ack' });
      const second = await c.say('second');
      expect(second).toMatchObject({ type: 'error', code: 'rate_limited' });
      expect(second.message).toMatch(/slow mode/);
      expect(second.retryAfterMs).toBeGreaterThan(4000);
      // A new joiner is told the settings in its welcome.
      const late = await connect(p, streamId, viewer());
      expect(late.frames[0]).toMatchObject({ settings: { slowModeSeconds: 5 } });
    });
  });

  describe('moderation', () => {
    it('when the owner deletes a message, then the room gets a delete item and later joiners do not see it', async () => {
      const { streamId, owner } = await liveStream(p);
      const u = await connect(p, streamId, viewer());
      const bad = await u.say('spam');
      await u.say('fine');
      expect(await u.request({ type: 'delete', messageId: bad.id })).toMatchObject({ code: 'forbidden' });

      const o = await connect(p, streamId, owner);
      expect(await o.request({ type: 'delete', messageId: bad.id })).toMatchObject({ type: 'ack' });
      await u.until(() => u.items.find((i) => i.type === 'delete' && i.messageId === bad.id));
      const late = await connect(p, streamId, viewer());
      expect(late.items.map((i) => i.text)).toEqual(['fine']);
      const gone = await p.call('chat', 'DELETE', `/rooms/${streamId}/messages/999`, { user: owner });
      expect(gone.status).toBe(404);
    });

    it('when the owner bans a user, then their sockets close with 4003, they cannot rejoin or post, until unbanned', async () => {
      const { streamId, owner } = await liveStream(p);
      const troll = viewer();
      const t1 = await connect(p, streamId, troll);
      const t2 = await connect(p, streamId, troll);
      const other = await connect(p, streamId, viewer());

      const res = await p.call('chat', 'PUT', `/rooms/${streamId}/bans/${troll.id}`, { user: owner });
      expect(res.status).toBe(200);
      expect((await t1.closed).code).toBe(4003);
      expect((await t2.closed).code).toBe(4003);
      await other.until(() => other.items.find((i) => i.type === 'ban' && i.userId === troll.id));
      await expect(connect(p, streamId, troll)).rejects.toThrow('HTTP 403');
      expect((await p.call('chat', 'PUT', `/rooms/${streamId}/bans/${owner.id}`, { user: owner })).status).toBe(409);
      expect((await p.call('chat', 'PUT', `/rooms/${streamId}/bans/${owner.id}`, { user: troll })).status).toBe(403);

      const o = await connect(p, streamId, owner);
      expect(await o.request({ type: 'unban', userId: troll.id })).toMatchObject({ type: 'ack' });
      const back = await connect(p, streamId, troll);
      expect(await back.say('sorry')).toMatchObject({ type: 'ack' });
    });
  });

  describe('stamps', () => {
    it('when stamp.sent is delivered twice, then the room shows the stamp once, carrying its transaction id', async () => {
      const { streamId, owner } = await liveStream(p);
      const c = await connect(p, streamId, viewer());
      const event: EventEnvelope<'stamp.sent'> = {
        id: randomUUID(),
        type: 'stamp.sent',
        source: 'stamp',
        key: streamId,
        occurredAt: new Date().toISOString(),
        data: {
          sentStampId: randomUUID(),
          streamId,
          stampId: randomUUID(),
          senderId: randomUUID(),
          receiverId: owner.id,
          price: 100,
          transferId: randomUUID(),
          sentAt: new Date().toISOString(),
        },
      };
      expect(await hub().deliverStamp(event)).toBe('delivered');
      expect(await hub().deliverStamp(event)).toBe('duplicate');
      const stamp = await c.until(() => c.items.find((i) => i.type === 'stamp'));
      expect(stamp).toMatchObject({ txId: event.data.transferId, sentStampId: event.data.sentStampId, price: 100 });
      await c.say('after');
      await c.until(() => c.items.length === 2);
      expect(c.items.filter((i) => i.type === 'stamp')).toHaveLength(1);
    });
  });

  describe('connections', () => {
    it('when clients join and leave, then contents gets the viewer count', async () => {
      const { streamId } = await liveStream(p);
      const viewers = async () => (await p.call('contents', 'GET', `/streams/${streamId}`)).body.viewerCount;
      const a = await connect(p, streamId);
      const b = await connect(p, streamId, viewer());
      await expect.poll(viewers, { timeout: 15_000 }).toBe(2);
      await a.close();
      await b.close();
      await expect.poll(viewers, { timeout: 15_000 }).toBe(0);
    });

    it('when a client stops answering pings, then it is dropped', async () => {
      const { streamId } = await liveStream(p);
      const url = `${p.url('chat').replace(/^http/, 'ws')}/rooms/${streamId}/ws`;
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${await p.token('bff')}` }, autoPong: false });
      const closed = new Promise<number>((ok) => ws.on('close', (code) => ok(code)));
      ws.on('error', () => {});
      // Dropped without a close frame: the peer is presumed gone.
      expect(await closed).toBe(1006);
    });

    it('when a client reads too slowly, then it is closed with 4008 while the others get everything, batched', async () => {
      const { streamId, owner } = await liveStream(p);
      const fast = await connect(p, streamId, viewer());
      const slow = await connect(p, streamId, viewer());
      // The slow client stops reading its socket: the kernel buffers fill, then the server's.
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const room = await hub().room(streamId);
      // 2 KB per message (500 four-byte characters); paced so that the fast reader (in this very
      // process) keeps up, while the paused one falls behind.
      const text = '😀'.repeat(500);
      const caller = { service: 'bff', user: { id: owner.id, roles: owner.roles } };
      let sent = 0;
      while (room.clients.size === 2 && sent < 20_000) {
        await Promise.all(Array.from({ length: 100 }, () => hub().post(room, caller, text)));
        sent += 100;
        await fast.until(() => fast.items.length === sent, 15_000, `${sent} items`);
      }
      expect(room.clients.size).toBe(1); // the slow one is gone
      expect(sent).toBeLessThan(20_000);
      // Items that arrived together went out together.
      expect(fast.frames.filter((f) => f.type === 'items').length).toBeLessThan(sent / 10);
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      expect([4008, 1006]).toContain((await slow.closed).code);
    }, 40_000);
  });

  describe('bad input', () => {
    it('when a client sends binary, invalid JSON or unknown frames, then error frames; an oversized frame closes with 1009; a flood with 1008; others are unaffected', async () => {
      const { streamId } = await liveStream(p);
      const bystander = await connect(p, streamId, viewer());

      const c = await connect(p, streamId, viewer());
      c.raw(Buffer.from([1, 2, 3]), true);
      await c.frame('error', 15_000, (f) => f.code === 'unsupported_media_type');
      c.raw('{not json');
      await c.frame('error', 15_000, (f) => f.code === 'invalid_json');
      c.raw(JSON.stringify({ type: 'shout', text: 'x' }));
      await c.frame('error', 15_000, (f) => f.code === 'validation_failed');
      c.raw(JSON.stringify({ type: 'send', text: 42 }));
      await c.until(() => c.frames.filter((f) => f.code === 'validation_failed').length === 2);
      expect(c.ws.readyState).toBe(WebSocket.OPEN);

      const big = await connect(p, streamId, viewer());
      big.raw(JSON.stringify({ type: 'send', text: 'x'.repeat(5000) }));
      expect((await big.closed).code).toBe(1009);

      const flood = await connect(p, streamId, viewer());
      for (let i = 0; i < 100; i++) flood.raw(JSON.stringify({ type: 'ping' }));
      expect((await flood.closed).code).toBe(1008);

      const junk = await connect(p, streamId, viewer());
      for (let i = 0; i < 30; i++) setTimeout(() => junk.raw('nope'), i * 60);
      expect((await junk.closed).code).toBe(1008);

      expect(await bystander.say('still here')).toMatchObject({ type: 'ack' });
      const late = await connect(p, streamId, viewer());
      expect(late.items.map((i) => i.text)).toEqual(['still here']);
    });
  });

  describe('persistence', () => {
    it('when messages are posted, then PostgreSQL gets them behind the log, deletions included', async () => {
      const { streamId, owner } = await liveStream(p);
      const o = await connect(p, streamId, owner);
      const first = await o.say('kept');
      const second = await o.say('removed');
      await o.request({ type: 'delete', messageId: second.id });
      await hub().flush();
      const db = p.services.get('chat')!.built.database!.db as import('kysely').Kysely<
        import('../src/db.ts').ChatDatabase
      >;
      const rows = await db
        .selectFrom('items')
        .select(['id', 'type', 'deleted_at'])
        .where('stream_id', '=', streamId)
        .orderBy('id')
        .execute();
      expect(rows.map((r) => [Number(r.id), r.type, r.deleted_at !== null])).toEqual([
        [first.id, 'message', false],
        [second.id, 'message', true],
        [3, 'delete', false],
      ]);
    });
  });
});

describe('when chat shuts down', () => {
  it('then its clients are told to reconnect with 1012, and refused upgrades still open do not hold it up', async () => {
    const p = await startTestPlatform([contentsService, chatService], 'pglite');
    const { streamId } = await liveStream(p, streamer());
    const c = await connect(p, streamId, viewer());
    // Refused at the root (401 before any route; 404 for an unknown path): the client keeps its socket.
    const base = p.url('chat').replace(/^http/, 'ws');
    for (const headers of [{}, { authorization: `Bearer ${await p.token('bff')}` }]) {
      const status = await new Promise<number>((ok) => {
        const ws = new WebSocket(`${base}/nope`, { headers });
        ws.on('unexpected-response', (_req, res) => ok(res.statusCode ?? 0));
        ws.on('error', () => {});
      });
      expect([401, 404]).toContain(status);
    }
    const started = Date.now();
    const closing = p.close();
    expect((await c.closed).code).toBe(1012);
    await closing;
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
