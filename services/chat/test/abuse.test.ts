import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '@livehouse/contracts';
import { depsOf } from '@livehouse/kit';
import type { TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatService } from '../src/index.ts';
import { chatSetups, connect, liveStream, startChat, type TestClient, viewer } from './helpers.ts';

// One client must not be able to hold the room's resources or its stream's ranking (issue 17, item 6).
const from = (address: string) => ({ headers: { 'livehouse-client-ip': address } });

describe.each(chatSetups)('chat abuse on $kind (redis: $redis)', (setup) => {
  let p: TestPlatform;
  const hub = () => depsOf(p.services.get('chat')!.built, chatService).hub;

  beforeAll(async () => {
    p = await startChat(setup);
  });
  afterAll(() => p?.close());

  it('when one user opens more than 10 sockets or one address more than 50, then the next upgrade is refused with 429 until one closes', async () => {
    const { streamId } = await liveStream(p);
    const user = viewer();
    const mine: TestClient[] = [];
    for (let i = 0; i < 10; i++) mine.push(await connect(p, streamId, user));
    await expect(connect(p, streamId, user)).rejects.toThrow('HTTP 429');
    // Another user is not affected.
    const other = await connect(p, streamId, viewer());
    await mine.pop()?.close();
    // The slot is released when the socket closes (asynchronously, in Redis).
    const reconnect = async () => {
      const c = await connect(p, streamId, user).catch(() => undefined);
      if (c) mine.push(c);
      return c !== undefined;
    };
    await expect.poll(reconnect, { timeout: 15_000 }).toBe(true);

    const crowd: TestClient[] = [];
    for (let i = 0; i < 50; i++) crowd.push(await connect(p, streamId, undefined, from('203.0.113.7')));
    await expect(connect(p, streamId, undefined, from('203.0.113.7'))).rejects.toThrow('HTTP 429');
    // Signed-in users behind that address count against it too.
    await expect(connect(p, streamId, viewer(), from('203.0.113.7'))).rejects.toThrow('HTTP 429');
    await connect(p, streamId, undefined, from('203.0.113.8'));
    for (const c of [...mine, ...crowd, other]) c.ws.terminate();
  }, 40_000);

  it('when one address opens many anonymous sockets and one user several, then each counts as one viewer', async () => {
    const { streamId } = await liveStream(p);
    const viewers = async () => (await p.call('contents', 'GET', `/streams/${streamId}`)).body.viewerCount;
    const user = viewer();
    const sockets = [
      ...(await Promise.all(Array.from({ length: 8 }, () => connect(p, streamId, undefined, from('198.51.100.1'))))),
      ...(await Promise.all(Array.from({ length: 3 }, () => connect(p, streamId, user, from('198.51.100.2'))))),
      await connect(p, streamId, undefined, from('2001:db8::1')),
    ];
    // An anonymous reader, a user and another address: three viewers, however many sockets.
    await expect.poll(viewers, { timeout: 15_000 }).toBe(3);
    expect((await p.call('chat', 'GET', `/rooms/${streamId}`)).body.viewers).toBe(3);
    for (const s of sockets) await s.close();
    await expect.poll(viewers, { timeout: 15_000 }).toBe(0);
  });

  it('when a banned user sends a stamp, then it does not reach the room', async () => {
    const { streamId, owner } = await liveStream(p);
    const troll = viewer();
    expect((await p.call('chat', 'PUT', `/rooms/${streamId}/bans/${troll.id}`, { user: owner })).status).toBe(200);
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
        senderId: troll.id,
        receiverId: owner.id,
        price: 100,
        transferId: randomUUID(),
        sentAt: new Date().toISOString(),
      },
    };
    expect(await hub().deliverStamp(event)).toBe('banned');
    expect(await c.say('after')).toMatchObject({ type: 'ack' });
    await c.until(() => c.items.some((i) => i.text === 'after'));
    expect(c.items.filter((i) => i.type === 'stamp')).toHaveLength(0);
  });

  it('when the stream ends, then posts are refused with conflict at once, on sockets opened before and after', async () => {
    const { streamId, owner } = await liveStream(p);
    const o = await connect(p, streamId, owner);
    const u = await connect(p, streamId, viewer());
    expect(await u.say('before')).toMatchObject({ type: 'ack' });
    expect((await p.call('contents', 'POST', `/streams/${streamId}/end`, { user: owner })).status).toBe(200);
    // The stream.ended event reaches chat through the bus (a relay poll away, not the 30 s info cache).
    await expect.poll(async () => (await o.say('still on?')).code, { timeout: 15_000, interval: 200 }).toBe('conflict');
    expect(await u.say('after')).toMatchObject({ type: 'error', code: 'conflict' });
    const late = await connect(p, streamId, viewer());
    expect(await late.say('late')).toMatchObject({ type: 'error', code: 'conflict' });
  });
});
