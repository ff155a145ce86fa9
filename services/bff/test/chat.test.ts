import { dbKinds, type TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { buildWorld, startBff, type World } from './helpers.ts';

type Frame = { type: string; [key: string]: unknown };

/** Opens a socket and collects its frames; `next(type)` waits for the next frame of that type. */
function connect(url: string, options: { headers?: Record<string, string>; protocols?: string[] } = {}) {
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers ?? {} });
  const frames: Frame[] = [];
  const waiters: { type: string; resolve: (f: Frame) => void }[] = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    const i = waiters.findIndex((w) => w.type === frame.type);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(frame);
    else frames.push(frame);
  });
  const next = (type: string) =>
    new Promise<Frame>((resolve, reject) => {
      const i = frames.findIndex((f) => f.type === type);
      if (i >= 0) return resolve(frames.splice(i, 1)[0]!);
      waiters.push({ type, resolve });
      setTimeout(() => reject(new Error(`no ${type} frame`)), 30_000).unref();
    });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return { ws, next, opened };
}

describe.each(dbKinds)('chat through the bff on %s', (kind) => {
  let p: TestPlatform;
  let w: World;
  let base: string;
  beforeAll(async () => {
    p = await startBff(kind);
    w = await buildWorld(p);
    base = `${p.url('bff').replace('http', 'ws')}/web/v1/streams/${w.streamId}/chat`;
  });
  afterAll(() => p?.close());

  it('when a logged-in viewer posts through the public host, then an anonymous reader sees it, after the paid stamp', async () => {
    // The paid stamp sent in buildWorld reaches the room from the ledger's event (outbox → relay → bus
    // → chat), asynchronously: join until the history holds it, with its transfer id.
    let reader = connect(base);
    for (let attempt = 0; ; attempt++) {
      await reader.opened;
      expect((await reader.next('welcome')).user).toBeNull();
      const history = (await reader.next('history')).items as Frame[];
      if (history.some((i) => i.type === 'stamp' && typeof i.txId === 'string')) break;
      // 40 s: a machine that two suites share can hold the relay's wake-up for many seconds.
      expect(attempt).toBeLessThan(200);
      reader.ws.close();
      await new Promise((r) => setTimeout(r, 200));
      reader = connect(base);
    }

    const viewer = connect(base, { headers: { authorization: `Bearer ${w.viewer.token}` } });
    await viewer.opened;
    expect((await viewer.next('welcome')).user).toMatchObject({ id: w.viewer.id });
    viewer.ws.send(JSON.stringify({ type: 'send', text: 'gg', ref: 'r1' }));
    expect(await viewer.next('ack')).toMatchObject({ ref: 'r1' });
    const items = (await reader.next('items')).items as Frame[];
    expect(items.at(-1)).toMatchObject({ type: 'message', text: 'gg', userId: w.viewer.id });
    reader.ws.close();
    viewer.ws.close();
  });

  it('when a browser passes the token as a subprotocol, then it is the same user', async () => {
    const viewer = connect(base, { protocols: ['livehouse.chat', `bearer.${w.viewer.token}`] });
    await viewer.opened;
    expect(viewer.ws.protocol).toBe('livehouse.chat');
    expect((await viewer.next('welcome')).user).toMatchObject({ id: w.viewer.id });
    viewer.ws.close();
  });

  it('when the token is bad or the stream unknown, then the upgrade is refused in the error format', async () => {
    await expect(connect(base, { headers: { authorization: 'Bearer nope' } }).opened).rejects.toThrow('HTTP 401');
    const unknown = base.replace(w.streamId, '00000000-0000-4000-8000-000000000000');
    await expect(connect(unknown).opened).rejects.toThrow('HTTP 404');
  });
});
