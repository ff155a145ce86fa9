import type { TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildWorld, startBff, type World } from './helpers.ts';

/** Opens a public chat socket and resolves once its history arrived. */
async function join(url: string) {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  await new Promise<void>((ok, fail) => {
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'history') ok();
    });
    ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
  });
  return ws;
}

// What chat must see through the BFF to bound a client (issue 17, item 6): its pings reach the
// client itself, and the client's address comes along.
describe('chat through the bff: what chat sees of the client', () => {
  let p: TestPlatform;
  let w: World;
  let base: string;
  const viewers = async () => (await p.call('chat', 'GET', `/rooms/${w.streamId}`)).body.viewers as number;

  beforeAll(async () => {
    p = await startBff('pglite', (name) =>
      name === 'chat' ? { chat: { heartbeatIntervalMs: 500, viewerReportIntervalMs: 150 } } : {},
    );
    w = await buildWorld(p);
    base = `${p.url('bff').replace('http', 'ws')}/web/v1/streams/${w.streamId}/chat`;
  });
  afterAll(() => p?.close());

  it('when anonymous sockets come from one client, then chat counts one viewer', async () => {
    const sockets = await Promise.all(Array.from({ length: 5 }, () => join(base)));
    await expect.poll(viewers, { timeout: 5000 }).toBe(1);
    for (const ws of sockets) ws.terminate();
    await expect.poll(viewers, { timeout: 5000 }).toBe(0);
  });

  it('when a client stops reading in a quiet room, then chat pings it through the BFF and drops it', async () => {
    const ws = await join(base);
    await expect.poll(viewers, { timeout: 5000 }).toBe(1);
    // The client's own socket stops reading: no pong can come back (the BFF must not answer for it).
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await expect.poll(viewers, { timeout: 30_000 }).toBe(0);
    ws.terminate();
  });
});
