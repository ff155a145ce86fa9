import { randomUUID } from 'node:crypto';
import type { EventEnvelope } from '@livehouse/contracts';
import { depsOf } from '@livehouse/kit';
import { startTestPlatform, type TestBody, type TestPlatform } from '@livehouse/kit/testing';
import { pointService } from '@livehouse/point';
import { stampService } from '@livehouse/stamp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatService } from '../src/index.ts';
import { connect, contentsService, liveStream, viewer } from './helpers.ts';

// The whole path on the platform's in-process bus: stamp → point's ledger → stamp's outbox →
// relay → chat's consumer → the room.
describe('stamps in the room', () => {
  let p: TestPlatform;
  let catalog: TestBody[];

  beforeAll(async () => {
    p = await startTestPlatform([contentsService, pointService, stampService, chatService], 'pglite');
    catalog = (await p.call('stamp', 'GET', '/catalog')).body.items;
  });
  afterAll(() => p?.close());

  const send = (user: { id: string }, streamId: string, stampId: string) =>
    p.call('stamp', 'POST', `/streams/${streamId}/stamps`, {
      user: { id: user.id, roles: ['viewer'] },
      body: { stampId },
      headers: { 'idempotency-key': randomUUID() },
    });

  it('when a paid stamp is sent, then the room gets it after the ledger committed, with its transfer as txId', async () => {
    const { streamId } = await liveStream(p);
    const fan = viewer();
    const c = await connect(p, streamId, viewer());
    const paid = catalog.find((s) => s.price === 300);

    const refused = await send(fan, streamId, paid.id);
    expect(refused.status).toBe(409); // no points yet: the ledger refused, nothing reaches the room
    const bought = await p.call('point', 'POST', '/purchases', {
      as: 'payment',
      headers: { 'idempotency-key': randomUUID() },
      body: { userId: fan.id, paymentId: randomUUID(), amount: 1000 },
    });
    expect(bought.status).toBe(201);
    const sent = await send(fan, streamId, paid.id);
    expect(sent.status).toBe(201);
    expect(sent.body.transferId).toEqual(expect.any(String));

    const item = await c.until(() => c.items.find((i) => i.type === 'stamp'), 15_000, 'the stamp');
    expect(item).toMatchObject({
      txId: sent.body.transferId,
      sentStampId: sent.body.id,
      senderId: fan.id,
      price: 300,
    });
    expect(c.items.filter((i) => i.type === 'stamp')).toHaveLength(1);
  });

  it('when the same stamp.sent event arrives again (at-least-once), then the room does not show it twice', async () => {
    const { streamId } = await liveStream(p);
    const c = await connect(p, streamId, viewer());
    const free = catalog.find((s) => s.price === 0);
    const sent = await send(viewer(), streamId, free.id);
    expect(sent.status).toBe(201);
    const item = await c.until(() => c.items.find((i) => i.type === 'stamp'), 15_000, 'the stamp');
    expect(item.txId).toBe(sent.body.id); // free: no ledger transfer, the sent stamp's id

    // A redelivery that slipped past the processed-events table (e.g. its transaction failed after the append).
    const hub = depsOf(p.services.get('chat')!.built, chatService).hub;
    const again: EventEnvelope<'stamp.sent'> = {
      id: randomUUID(),
      type: 'stamp.sent',
      source: 'stamp',
      key: streamId,
      occurredAt: new Date().toISOString(),
      data: {
        sentStampId: sent.body.id,
        streamId,
        stampId: free.id,
        senderId: sent.body.senderId,
        receiverId: sent.body.receiverId,
        price: 0,
        transferId: null,
        sentAt: sent.body.createdAt,
      },
    };
    expect(await hub.deliverStamp(again)).toBe('duplicate');
    expect(await c.say('after')).toMatchObject({ type: 'ack' });
    await c.until(() => c.items.some((i) => i.text === 'after'));
    expect(c.items.filter((i) => i.type === 'stamp')).toHaveLength(1);
  });
});
