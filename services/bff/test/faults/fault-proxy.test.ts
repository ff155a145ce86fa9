import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultProxy } from '@livehouse/kit/testing/fault-proxy';
import { Pool } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/** A target that counts requests and answers JSON, echoing the length of any body it got. */
let target: Server;
let hits = 0;
let proxy: FaultProxy;
let pool: Pool;

async function get(path = '/', options: { timeoutMs?: number; body?: string } = {}) {
  const started = performance.now();
  const res = await pool.request({
    method: options.body === undefined ? 'GET' : 'POST',
    path,
    ...(options.body !== undefined && { body: options.body, headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 2000),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text, ms: performance.now() - started };
}

beforeAll(async () => {
  target = createServer((req, res) => {
    hits++;
    let length = 0;
    req.on('data', (c: Buffer) => {
      length += c.length;
    });
    req.on('end', () => res.setHeader('content-type', 'application/json').end(JSON.stringify({ ok: true, length })));
  });
  await new Promise<void>((ok) => target.listen(0, '127.0.0.1', ok));
  proxy = await FaultProxy.start({ target: `127.0.0.1:${(target.address() as AddressInfo).port}` });
  pool = new Pool(proxy.url, { connections: 1 });
});

afterEach(async () => {
  await proxy.set('pass');
});

afterAll(async () => {
  await pool.close();
  await proxy.close();
  await new Promise((ok) => target.close(ok));
});

describe('fault proxy', () => {
  it('when passing, then requests and bodies reach the target and answers come back', async () => {
    expect(await get()).toMatchObject({ status: 200, text: '{"ok":true,"length":0}' });
    expect(await get('/', { body: 'x'.repeat(100_000) })).toMatchObject({ text: '{"ok":true,"length":100000}' });
  });

  it('when down, then connections are refused, and it listens on the same port once passing again', async () => {
    const port = proxy.port;
    await proxy.set('down');
    await expect(get()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await proxy.set('pass');
    expect(proxy.port).toBe(port);
    expect((await get()).status).toBe(200);
  });

  it('when black-holed, then nothing is answered and nothing reaches the target, even on an open keep-alive connection', async () => {
    await get(); // leaves a keep-alive connection open in the pool
    const before = hits;
    await proxy.set('blackhole');
    await expect(get('/', { timeoutMs: 300 })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(hits).toBe(before);
  });

  it('when answering 500, then every request on a connection gets 500 in the error format, bodies or not', async () => {
    const before = hits;
    await proxy.set('http500');
    const answers = [await get(), await get('/', { body: '{"a":1}' }), await get()];
    for (const a of answers) {
      expect(a.status).toBe(500);
      expect(JSON.parse(a.text)).toMatchObject({ error: { code: 'internal_error', message: expect.any(String) } });
    }
    expect(hits).toBe(before);
  });

  it('when malformed, then the answer is 200 with a body that is not JSON', async () => {
    await proxy.set('malformed');
    const a = await get();
    expect(a.status).toBe(200);
    expect(() => JSON.parse(a.text)).toThrow(SyntaxError);
  });

  it('when slow, then the answer comes intact but only after the delay', async () => {
    await proxy.set('slow', { delayMs: 300 });
    const a = await get('/', { body: 'y'.repeat(50_000) });
    expect(a.text).toBe('{"ok":true,"length":50000}');
    expect(a.ms).toBeGreaterThanOrEqual(290);
    await proxy.set('pass');
    expect((await get()).ms).toBeLessThan(200);
  });

  it('when the target is gone, then passing resets the connection instead of hanging', async () => {
    const dead = await FaultProxy.start({ target: '127.0.0.1:1' });
    const p = new Pool(dead.url);
    await expect(p.request({ method: 'GET', path: '/', signal: AbortSignal.timeout(2000) })).rejects.toMatchObject({
      code: expect.stringMatching(/UND_ERR_SOCKET|ECONNRESET/),
    });
    await p.close();
    await dead.close();
  });
});
