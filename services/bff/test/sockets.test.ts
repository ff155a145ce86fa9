import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EdgeProcess, liveStream, startEdgeProcess, until } from './edge-process.ts';

/** Opens a raw TCP connection, writes `data` and resets the connection (RST), resolving once it is gone. */
export function sendAndReset(port: number, data: string | Buffer, options: { waitForAnswer?: boolean } = {}) {
  return new Promise<void>((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1', () => {
      socket.write(data, () => {
        if (!options.waitForAnswer) socket.resetAndDestroy();
      });
    });
    if (options.waitForAnswer) socket.once('data', () => socket.resetAndDestroy());
    socket.on('error', () => {});
    socket.once('close', () => resolve());
  });
}

const STREAM = '00000000-0000-4000-8000-000000000000';
const upgrade = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;

describe('bff sockets', () => {
  let edge: EdgeProcess;
  beforeAll(async () => {
    edge = await startEdgeProcess();
  });
  afterAll(() => edge?.close());

  const cases: [string, string, { waitForAnswer?: boolean }?][] = [
    ['an Upgrade: foo to /', 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n'],
    ['a WebSocket upgrade to an unknown path', upgrade('/nowhere')],
    ['a chat upgrade', upgrade(`/web/v1/streams/${STREAM}/chat`)],
    ['a chat upgrade with a bad token', upgrade(`/web/v1/streams/${STREAM}/chat`, 'Authorization: Bearer x\r\n')],
    ['an upgrade whose refusal was read first', upgrade('/nowhere'), { waitForAnswer: true }],
    ['an upgrade with a body after the headers', `${upgrade('/app/v1/home')}garbage-after-the-head`],
  ];

  it.each(cases)('when %s is followed by a TCP reset, then the process stays up and healthy', async (_, data, opts) => {
    await sendAndReset(Number(edge.bff.port), data, opts);
    expect(await edge.healthy(), edge.output()).toBe(true);
    // The refusal of a chat upgrade is written after an asynchronous step: ask twice.
    await new Promise((r) => setTimeout(r, 100));
    expect(await edge.healthy(), edge.output()).toBe(true);
    expect(edge.alive()).toBe(true);
  });

  it('when 50 clients send the chat upgrade and leave before it completes, then no descriptor is left behind', async () => {
    const streamId = await liveStream(edge.bff);
    const chat = `/web/v1/streams/${streamId}/chat`;
    // One full chat session first, so lazily opened pools and the room exist before counting.
    await sendAndReset(Number(edge.bff.port), upgrade(chat), { waitForAnswer: true });
    const before = await edge.settledFds();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? sendAndReset(Number(edge.bff.port), upgrade(chat))
          : new Promise<void>((resolve) => {
              // A polite leaver: FIN right after the request.
              const socket = connect(Number(edge.bff.port), '127.0.0.1', () => socket.end(upgrade(chat)));
              socket.on('error', () => {});
              socket.once('close', () => resolve());
            }),
      ),
    );
    expect(await edge.healthy()).toBe(true);
    await until(
      () => edge.fds() <= before + 4,
      () => `descriptors: ${before} before, ${edge.fds()} now`,
      30_000,
    );
    // Above its inner waits (settling ≤ 10 s, the count ≤ 30 s): in a full parallel run the child is slow.
  }, 90_000);
});
