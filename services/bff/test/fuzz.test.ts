import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EdgeProcess, liveStream, startEdgeProcess, until } from './edge-process.ts';

/**
 * A socket-level fuzz test of the BFF's HTTP and upgrade paths (issue 17): each case is a raw TCP client
 * doing something hostile. After every case the process is up and its health check answers; at the end no
 * file descriptor is left behind. Bounded: a fixed number of cases, each ending within seconds.
 */

type Step =
  | { write: string | Buffer }
  | { wait: number }
  | { end: true } // FIN: half-close, keep reading
  | { reset: true };

/** Runs the steps on a fresh connection; resolves when the connection is gone (or after `maxMs`, destroying it). */
function play(port: number, steps: Step[], maxMs = 5000) {
  return new Promise<string>((resolve) => {
    let answer = '';
    const socket: Socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(), maxMs);
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.once('connect', async () => {
      for (const step of steps) {
        if (socket.destroyed) return;
        if ('write' in step) await new Promise<void>((ok) => socket.write(step.write, () => ok()));
        else if ('wait' in step) await new Promise((r) => setTimeout(r, step.wait));
        else if ('end' in step) socket.end();
        else if ('reset' in step) return socket.resetAndDestroy();
      }
      // Without a reset, leave once the server has answered and closed, or at maxMs.
      setTimeout(() => socket.end(), 1000);
    });
  });
}

const body = JSON.stringify({ login: 'nobody', password: 'wrong password' });
const login = `POST /web/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
const upgradeTo = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

describe('bff socket fuzzing', () => {
  let edge: EdgeProcess;
  let port: number;
  let chat: string;
  let baseline: number;
  beforeAll(async () => {
    // Connections between the services idle out after 1 s, so that what stays open after the cases is a leak.
    edge = await startEdgeProcess({
      '*': { http: { host: '127.0.0.1', port: 0, adminPort: 0, keepAliveTimeoutMs: 1000 } },
    });
    port = Number(edge.bff.port);
    chat = upgradeTo(`/web/v1/streams/${await liveStream(edge.bff)}/chat`);
    // Warm every lazy pool and the room once, then count.
    await play(port, [{ write: login }]);
    await play(port, [{ write: chat }, { wait: 300 }, { reset: true }]);
    baseline = await edge.settledFds();
  }, 120_000);
  afterAll(() => edge?.close());

  const healthyAfter = async (what: string) => {
    expect(edge.alive(), `${what}\n${edge.output()}`).toBe(true);
    expect(await edge.healthy(), what).toBe(true);
  };

  it('when a request or an upgrade is reset at every stage, then the process stays up and healthy', async () => {
    for (const request of [login, chat, upgradeTo('/nowhere')]) {
      const cuts = new Set([
        1,
        5,
        request.indexOf('\r\n'),
        request.indexOf('\r\n\r\n'),
        request.length - 3,
        request.length,
      ]);
      for (const cut of cuts) {
        await play(port, [{ write: request.slice(0, cut) }, { wait: 20 }, { reset: true }]);
        await healthyAfter(`reset after ${cut} bytes of ${request.split(' ')[1]}`);
      }
      // And after the answer started (upgrade: after 101 Switching Protocols).
      await play(port, [{ write: request }, { wait: 200 }, { reset: true }]);
      await healthyAfter(`reset after the answer to ${request.split(' ')[1]}`);
    }
  });

  it('when connections are half-open, pipelined with garbage, oversized or slow, then the process stays up and healthy', async () => {
    const cases: [string, Step[], (answer: string) => void][] = [
      ['a connection that sends nothing and half-closes', [{ end: true }], () => {}],
      [
        'a request half-closed before its body',
        [{ write: login.slice(0, login.indexOf('\r\n\r\n') + 4) }, { end: true }],
        () => {},
      ],
      ['an upgrade half-closed at once', [{ write: chat }, { end: true }], () => {}],
      [
        'a valid request, garbage, another request in one write',
        [{ write: `${get('/web/v1/home')}\x00\xff GARBAGE \r\n\r\n${get('/web/v1/home')}` }],
        // The parser may meet the garbage before the first answer is written: then 400 and close.
        (answer) => expect(answer).toMatch(/^HTTP\/1\.1 (200|400)/),
      ],
      ['binary garbage', [{ write: Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)) }], () => {}],
      [
        'headers of 64 KiB',
        [{ write: `GET /web/v1/home HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n` }],
        (answer) => expect(answer).toMatch(/^HTTP\/1\.1 431[\s\S]*"code":"headers_too_large"/),
      ],
      [
        'an upgrade with headers of 64 KiB',
        [{ write: chat.replace('\r\n\r\n', `\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`) }],
        (answer) => expect(answer).toMatch(/^HTTP\/1\.1 431[\s\S]*"code":"headers_too_large"/),
      ],
      [
        'a body that trickles and stops',
        [
          { write: login.slice(0, login.indexOf('\r\n\r\n') + 4) },
          ...Array.from({ length: 10 }, (): Step[] => [{ write: 'x' }, { wait: 50 }]).flat(),
          { reset: true },
        ],
        () => {},
      ],
      [
        'an upgrade that trickles its headers',
        [
          ...chat.match(/.{1,16}/gs)!.flatMap((chunk): Step[] => [{ write: chunk }, { wait: 10 }]),
          { wait: 200 },
          { reset: true },
        ],
        () => {},
      ],
    ];
    for (const [what, steps, check] of cases) {
      check(await play(port, steps));
      await healthyAfter(what);
    }
  });

  it('when random bytes are written and cut at random points, then the process stays up and healthy', async () => {
    const chunk = fc.oneof(
      fc.constantFrom(login, chat, get('/web/v1/home'), '\r\n', 'Upgrade: websocket\r\n', 'Content-Length: 99999\r\n'),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(chunk, { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.boolean(),
        async (chunks, at, reset) => {
          const data = chunks.join('');
          const cut = at % (data.length + 1);
          await play(
            port,
            [{ write: Buffer.from(data.slice(0, cut), 'latin1') }, reset ? { reset: true } : { end: true }],
            3000,
          );
          await healthyAfter(`random ${JSON.stringify(data.slice(0, 80))} cut at ${cut}`);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('when every case is over, then no file descriptor is left behind', { timeout: 40_000 }, async () => {
    // Keep-alive connections between the services close after 1 s idle: wait for them, not for a leak.
    await until(
      () => edge.fds() <= baseline + 4,
      () => `descriptors: ${baseline} before the cases, ${edge.fds()} after`,
      30_000,
    );
  });
});
