import { connect } from 'node:net';
import type { TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicApi, startBff } from './helpers.ts';

const STREAM = '00000000-0000-4000-8000-000000000000';

/** The status line of a chat upgrade sent from this process (127.0.0.1), with the given headers. */
function upgradeStatus(port: number, headers: Record<string, string>) {
  return new Promise<number>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(
        `GET /web/v1/streams/${STREAM}/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
      );
    });
    let head = '';
    socket.on('data', (d) => {
      head += d;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m) {
        resolve(Number(m[1]));
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

// Issue 13, item 6: behind the load balancer every user must not share one per-IP bucket, and a client
// outside the trusted range cannot pick its own address. HTTP and the chat upgrade resolve it the same way.
describe.each([
  { trusted: ['127.0.0.1/32'], behindProxy: true },
  { trusted: ['10.0.0.0/16'], behindProxy: false },
])('client addresses with trustProxy $trusted', ({ trusted, behindProxy }) => {
  let p: TestPlatform;
  let port: number;
  beforeAll(async () => {
    p = await startBff('pglite', (name) =>
      name === 'bff'
        ? { http: { trustProxy: trusted }, bff: { rateLimit: { perIp: { max: 3, windowMs: 60_000 } } } }
        : {},
    );
    port = Number(new URL(p.url('bff')).port);
  });
  afterAll(() => p?.close());

  it(
    behindProxy
      ? 'when two clients come through one trusted proxy address, then each has its own bucket, on HTTP and the chat upgrade'
      : 'when a peer outside the trusted range sends X-Forwarded-For, then it is ignored: one bucket for the peer',
    async () => {
      const api = publicApi(`${p.url('bff')}/app/v1`);
      const as = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
      const a = [];
      for (let i = 0; i < 3; i++) a.push((await api('GET', '/home', as('203.0.113.1'))).status);
      expect(a).toEqual([200, 200, 200]);
      // A's bucket is empty: its chat upgrade too is limited.
      expect(await upgradeStatus(port, { 'x-forwarded-for': '203.0.113.1' })).toBe(429);
      // B (or a spoofed address from an untrusted peer):
      const b = (await api('GET', '/home', as('203.0.113.2'))).status;
      const bChat = await upgradeStatus(port, { 'x-forwarded-for': '203.0.113.3' });
      if (behindProxy) {
        expect(b).toBe(200);
        expect(bChat).not.toBe(429);
      } else {
        expect(b).toBe(429);
        expect(bChat).toBe(429);
      }
    },
  );
});
