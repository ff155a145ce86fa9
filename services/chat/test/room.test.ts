import fc from 'fast-check';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { ChatClient } from '../src/client.ts';
import { validateText } from '../src/frames.ts';
import { Room } from '../src/room.ts';
import { type LogEntry, MemoryRoomLog } from '../src/room-log.ts';

/** The sending side of a socket, as much as ChatClient uses: records frames, reports a buffer size. */
function fakeSocket(bufferedAmount = 0) {
  const sent: string[] = [];
  const socket = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount,
    send: (data: Buffer | string) => sent.push(data.toString()),
    close: () => {
      socket.readyState = 3;
    },
    terminate: () => {},
  };
  return { socket, sent, ws: socket as unknown as WebSocket };
}

const silent = { error() {}, warn() {}, info() {}, debug() {} } as unknown as FastifyBaseLogger;
const info = { streamId: 'room', channelId: 'channel', ownerId: 'owner', state: 'live' as const };
const settings = { rateLimitMax: 3, rateLimitWindowMs: 2000, muteMs: 10_000, slowModeSeconds: 0 };
const tick = () => new Promise((r) => setImmediate(r));
const ids = (frames: string[]) =>
  frames.flatMap((f) => (JSON.parse(f) as { items: { id: number }[] }).items.map((i) => i.id));

describe('a room', () => {
  it('when the log delivers items out of order, repeated or with gaps, then clients get every id once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.array(fc.nat(), { maxLength: 80 }), async (count, noise) => {
        const log = new MemoryRoomLog({ retainedPerRoom: 1000 });
        const entries: LogEntry[] = [];
        for (let i = 0; i < count; i++) {
          const r = await log.append('room', 'message', JSON.stringify({ type: 'message', text: `m${i}` }), {
            floor: 0,
          });
          if (r.ok) entries.push({ id: r.id, type: 'message', json: r.json });
        }
        // What pub/sub may do: lose some, repeat some, reorder (noise picks entries).
        const delivered = noise.map((n) => entries[n % count] as LogEntry);
        delivered.push(entries[count - 1] as LogEntry); // the last one arrives eventually
        const room = new Room(info, settings, [], { log, logger: silent, flushIntervalMs: 0 });
        const { ws, sent } = fakeSocket();
        const client = new ChatClient(ws, undefined, { sendBufferBytes: 1 << 20, sendHighWaterBytes: 1 << 16 });
        client.syncing = undefined;
        room.add(client);
        room.start(0);
        for (const e of delivered) room.receive(e);
        for (let i = 0; i < 5; i++) await tick();
        expect(ids(sent)).toEqual(entries.map((e) => e.id));
      }),
      { numRuns: 60 },
    );
  });

  it('when many items arrive in one turn, then each client gets them in one frame, the same buffer for all', async () => {
    const log = new MemoryRoomLog({ retainedPerRoom: 1000 });
    const room = new Room(info, settings, [], { log, logger: silent, flushIntervalMs: 0 });
    const buffers: unknown[] = [];
    const sockets = [fakeSocket(), fakeSocket()];
    for (const s of sockets) {
      s.socket.send = (data: Buffer | string) => buffers.push(data);
      const c = new ChatClient(s.ws, undefined, { sendBufferBytes: 1 << 20, sendHighWaterBytes: 1 << 16 });
      c.syncing = undefined;
      room.add(c);
    }
    room.start(0);
    for (let i = 1; i <= 10; i++) room.receive({ id: i, type: 'message', json: `{"id":${i}}` });
    for (let i = 0; i < 3; i++) await tick();
    expect(buffers).toHaveLength(2);
    expect(buffers[0]).toBe(buffers[1]);
    expect(ids([String(buffers[0])])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('when a socket is above the high-water mark, then items queue and go out as one frame once it drained; past the limit it is closed with 4008', async () => {
    // The lag check runs on a timer: the test moves its clock (setImmediate, the flush, stays real).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const log = new MemoryRoomLog({ retainedPerRoom: 1000 });
    const room = new Room(info, settings, [], {
      log,
      logger: silent,
      flushIntervalMs: 0,
      lagCheckMs: 5,
    });
    const slow = fakeSocket(5000);
    const client = new ChatClient(slow.ws, undefined, { sendBufferBytes: 10_000, sendHighWaterBytes: 1000 });
    client.syncing = undefined;
    room.add(client);
    room.start(0);
    for (let i = 1; i <= 3; i++) {
      room.receive({ id: i, type: 'message', json: `{"id":${i}}` });
      await tick();
      await tick();
    }
    expect(slow.sent).toHaveLength(0);
    expect(client.lagging).toBe(true);
    slow.socket.bufferedAmount = 0;
    await vi.advanceTimersByTimeAsync(5); // one lag check
    expect(slow.sent).toHaveLength(1);
    expect(ids(slow.sent)).toEqual([1, 2, 3]);

    let closedWith: number | undefined;
    slow.socket.close = ((code: number) => {
      closedWith = code;
      slow.socket.readyState = 3;
    }) as () => void;
    slow.socket.bufferedAmount = 9000;
    room.receive({ id: 4, type: 'message', json: `{"id":4,"pad":"${'x'.repeat(2000)}"}` });
    await tick();
    await tick();
    expect(closedWith).toBe(4008);
  });
});

describe('message text', () => {
  it('when text is any string, then it is refused or comes back trimmed, one line, well-formed, within the limit', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.integer({ min: 1, max: 40 }), (text, max) => {
        let out: string;
        try {
          out = validateText(text, max);
        } catch (err) {
          expect((err as { code: string }).code).toBe('validation_failed');
          return;
        }
        expect(out).toBe(text.trim());
        expect(out.length).toBeGreaterThan(0);
        expect(/\p{Cc}/u.test(out)).toBe(false);
        expect(out.isWellFormed()).toBe(true);
        expect([...out].length).toBeLessThanOrEqual(max);
      }),
    );
  });

  it('when text is printable and within the limit, then it is accepted', () => {
    const printable = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
      .filter((s) => !/\p{Cc}/u.test(s) && s.trim() !== '');
    fc.assert(
      fc.property(printable, (text) => {
        expect(validateText(text, 500)).toBe(text.trim());
      }),
    );
  });
});
