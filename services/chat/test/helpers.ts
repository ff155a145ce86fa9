import { randomBytes, randomUUID } from 'node:crypto';
import { contentsService } from '@livehouse/contents';
import { type DbKind, dbKinds, redisUrl, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { expect } from 'vitest';
import { WebSocket } from 'ws';
import { chatService } from '../src/index.ts';

export type Role = 'viewer' | 'streamer' | 'admin';
export interface TestUser {
  id: string;
  roles: Role[];
}
export const viewer = (): TestUser => ({ id: randomUUID(), roles: ['viewer'] });
export const streamer = (): TestUser => ({ id: randomUUID(), roles: ['streamer'] });
export { contentsService };

/** PGlite with the in-memory room log (embedded mode); PostgreSQL with the Redis log (production). */
export const chatSetups: { kind: DbKind; redis: boolean }[] = [
  { kind: 'pglite', redis: false },
  ...(dbKinds.includes('postgres') && redisUrl ? [{ kind: 'postgres' as const, redis: true }] : []),
];

/** contents and chat on `setup`, chat in a Redis namespace of its own, with fast viewer reports; `chat` overrides. */
export function startChat(setup: { kind: DbKind; redis: boolean }, chat: Record<string, unknown> = {}) {
  return startTestPlatform([contentsService, chatService], setup.kind, {
    config: (name) =>
      name === 'chat'
        ? {
            ...(setup.redis && { redis: { url: redisUrl } }),
            chat: {
              redisPrefix: `livehouse:test:${randomBytes(4).toString('hex')}:`,
              viewerReportIntervalMs: 150,
              // Not shorter: PGlite runs on this thread and may hold it for a few hundred ms.
              heartbeatIntervalMs: 1000,
              ...chat,
            },
          }
        : {},
  });
}

export interface Frame {
  type: string;
  [key: string]: unknown;
}
export interface ItemFrame {
  id: number;
  type: string;
  text?: string;
  userId?: string;
  [key: string]: unknown;
}

/** A channel with a live stream, created through contents. */
export async function liveStream(p: TestPlatform, owner = streamer(), live = true) {
  const created = await p.call('contents', 'POST', '/channels', { user: owner, body: { title: 'Chat test' } });
  expect(created.status).toBe(201);
  const channelId = created.body.channel.id as string;
  const stream = await p.call('contents', 'POST', `/channels/${channelId}/streams`, {
    user: owner,
    body: { title: 'Live now' },
  });
  expect(stream.status).toBe(201);
  const streamId = stream.body.id as string;
  if (live) expect((await p.call('contents', 'POST', `/streams/${streamId}/start`, { user: owner })).status).toBe(200);
  return { owner, channelId, streamId };
}

/**
 * A WebSocket client of a room, as the tests and the walk-through script use it: records every
 * frame, keeps the room's items in id order (dropping repeats), and waits for what a test expects.
 */
export class TestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  /** The room as this client saw it; a reconnect (`carry`) continues the same list. */
  readonly items: ItemFrame[];
  lastId: number;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: (() => void)[] = [];
  #ref = 0;

  constructor(url: string, token: string, carry?: TestClient, headers: Record<string, string> = {}) {
    this.items = carry?.items ?? [];
    this.lastId = carry?.lastId ?? 0;
    this.ws = new WebSocket(url, { headers: { ...headers, authorization: `Bearer ${token}` } });
    this.opened = new Promise((ok, fail) => {
      this.ws.once('open', () => ok());
      this.ws.once('error', fail);
      this.ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((ok) => {
      this.ws.on('close', (code, reason) => {
        ok({ code, reason: reason.toString() });
        this.#wake();
      });
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      if (frame.type === 'history' || frame.type === 'items') {
        for (const item of frame.items as ItemFrame[]) {
          if (item.id <= this.lastId) continue;
          this.lastId = item.id;
          this.items.push(item);
        }
      }
      this.#wake();
    });
  }

  #wake() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /**
   * Resolves when `predicate` holds (checked on every frame), fails after `timeoutMs`: long enough for a loaded
   * 2-core machine, short of the test's timeout, so a lost frame fails with its own message.
   */
  async until<T>(predicate: () => T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((ok) => {
        const timer = setTimeout(ok, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          ok();
        });
      });
    }
  }

  frame(type: string, timeoutMs?: number, where: (f: Frame) => boolean = () => true) {
    return this.until(() => this.frames.find((f) => f.type === type && where(f)), timeoutMs, `a ${type} frame`);
  }

  raw(data: string | Buffer, binary = false) {
    this.ws.send(data, { binary });
  }

  /** Sends a frame and waits for its ack or error. */
  async request(frame: Record<string, unknown>, timeoutMs = 15_000): Promise<Frame> {
    const ref = `r${++this.#ref}`;
    this.ws.send(JSON.stringify({ ...frame, ref }));
    return this.until(
      () => {
        const answer = this.frames.find((f) => f.ref === ref && (f.type === 'ack' || f.type === 'error'));
        if (!answer && this.ws.readyState > WebSocket.OPEN) throw new Error(`closed before answering ${ref}`);
        return answer;
      },
      timeoutMs,
      `the answer to ${ref}`,
    );
  }

  say(text: string) {
    return this.request({ type: 'send', text });
  }

  close() {
    this.ws.close();
    return this.closed;
  }
}

export async function connect(
  p: TestPlatform,
  streamId: string,
  user?: TestUser,
  options: { since?: number; url?: string; carry?: TestClient; headers?: Record<string, string> } = {},
) {
  const base = (options.url ?? p.url('chat')).replace(/^http/, 'ws');
  const since = options.since ?? options.carry?.lastId;
  const query = since !== undefined ? `?since=${since}` : '';
  const client = new TestClient(
    `${base}/rooms/${streamId}/ws${query}`,
    await p.token('bff', user),
    options.carry,
    options.headers,
  );
  await client.opened;
  await client.frame('history');
  return client;
}
