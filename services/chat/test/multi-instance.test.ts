import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { redisUrl, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chatService } from '../src/index.ts';
import { connect, contentsService, liveStream, type TestClient, type TestUser, viewer } from './helpers.ts';

const root = resolve(import.meta.dirname, '../../..');
const postgresUrl = inject('postgresUrl');

interface Instance {
  child: ChildProcess;
  url: string;
  admin: string;
  output: () => string;
}

/** A chat process of its own (what one pod runs), on the test's PostgreSQL schema and Redis. */
function startInstance(p: TestPlatform, prefix: string): Promise<Instance> {
  const config = {
    http: { host: '127.0.0.1', port: 0, adminPort: 0 },
    database: { url: postgresUrl, schema: `${p.backend.schemaPrefix}chat` },
    redis: { url: redisUrl },
    services: { contents: p.url('contents') },
    log: { level: 'warn' },
    chat: { redisPrefix: prefix, maxFramesPerSecond: 100 },
  };
  const child = spawn(join(root, 'node_modules/.bin/node'), [join(import.meta.dirname, 'fixtures/instance.ts')], {
    cwd: root,
    env: { ...process.env, ...p.secrets, CHAT_CONFIG: JSON.stringify(config) },
    stdio: 'pipe',
  });
  let out = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`chat instance did not start: ${out}`)), 60_000);
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.stdout.on('data', (d) => {
      out += d;
      const ready = /\{"ready":"([^"]+)","admin":"([^"]+)"\}/.exec(out);
      if (ready) {
        clearTimeout(timer);
        ok({ child, url: ready[1] as string, admin: ready[2] as string, output: () => out });
      }
    });
    child.on('exit', (code) => fail(new Error(`chat instance exited with ${code}: ${out}`)));
  });
}

const sequence = (c: TestClient) => c.items.map((i) => `${i.id}:${i.type}:${i.text ?? ''}`);

describe.skipIf(!redisUrl || !postgresUrl)('two chat processes on one Redis', () => {
  let p: TestPlatform;
  let a: Instance;
  let b: Instance;
  const prefix = `livehouse:test:${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    // The in-process chat migrates the schema the two processes share; it is also a third instance.
    p = await startTestPlatform([contentsService, chatService], 'postgres', {
      config: (name) => (name === 'chat' ? { redis: { url: redisUrl }, chat: { redisPrefix: prefix } } : {}),
    });
    [a, b] = await Promise.all([startInstance(p, prefix), startInstance(p, prefix)]);
  }, 90_000);
  afterAll(async () => {
    for (const i of [a, b]) i?.child.kill('SIGKILL');
    await p?.close();
  });

  /** A live stream whose owner lifted the rate limit (these tests post fast), and the clients in its room. */
  async function room(clientsPerInstance: number) {
    const { streamId, channelId, owner } = await liveStream(p);
    const users: TestUser[] = [];
    const clients: { user: TestUser; client: TestClient; on: Instance }[] = [];
    for (const on of [a, b]) {
      for (let i = 0; i < clientsPerInstance; i++) {
        const user = viewer();
        users.push(user);
        clients.push({ user, on, client: await connect(p, streamId, user, { url: on.url }) });
      }
    }
    const set = await p.call('chat', 'PUT', `/channels/${channelId}/chat-settings`, {
      user: owner,
      body: { rateLimitMax: 1000, rateLimitWindowMs: 1000 },
    });
    expect(set.status).toBe(200);
    for (const { client } of clients) await client.until(() => client.lastId === 1, 15_000, 'the settings item');
    return { streamId, clients };
  }

  it('when clients on each instance post, then all of them see every message in the same order', async () => {
    const { streamId, clients } = await room(3);
    const acks = await Promise.all(
      clients.flatMap(({ client }, n) => Array.from({ length: 20 }, (_, i) => client.say(`c${n}-${i}`))),
    );
    expect(acks.every((f) => f.type === 'ack')).toBe(true);
    const head = (await p.call('chat', 'GET', `/rooms/${streamId}`)).body.lastId;
    expect(head).toBe(1 + 120);
    for (const { client } of clients) await client.until(() => client.lastId === head, 15_000, `item ${head}`);
    const first = sequence(clients[0]!.client);
    expect(first).toHaveLength(121);
    for (const { client } of clients) expect(sequence(client)).toEqual(first);
    // Send → deliver is measured where each message is fanned out: on both processes, for all 120 (half of them
    // sent through the other one), and not for the settings item.
    for (const on of [a, b]) {
      const text = await (await fetch(`${on.admin}/metrics`)).text();
      expect(/^livehouse_chat_delivery_seconds_count(?:\{[^}]*\})? (\d+)$/m.exec(text)?.[1]).toBe('120');
    }
  });

  it('when one instance is killed, then its clients resume on the other without losing an acknowledged message', async () => {
    const { streamId, clients } = await room(3);
    const acked = new Map<number, string>();
    const ackedBy = new Map<number, number>();
    const ackedAfterResume = new Map<number, number>();
    let stop = false;
    // Each ack re-checks what the test waits for: the kill and the stop come from progress, not from a clock.
    let progress = () => {};
    const reached = (check: () => boolean, what: string, timeoutMs = 45_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
        progress = () => {
          if (!check()) return;
          clearTimeout(timer);
          progress = () => {};
          resolve();
        };
        progress();
      });
    // Every client posts every 15 ms; a client whose instance died reconnects to B with ?since.
    const run = async (entry: (typeof clients)[number], n: number) => {
      let i = 0;
      while (!stop) {
        const text = `c${n}-${i++}`;
        const answer = await entry.client.say(text).catch(() => undefined);
        if (answer?.type === 'ack') {
          acked.set(answer.id as number, text);
          ackedBy.set(n, (ackedBy.get(n) ?? 0) + 1);
          if (entry.on === b) ackedAfterResume.set(n, (ackedAfterResume.get(n) ?? 0) + 1);
          progress();
        }
        if (entry.client.ws.readyState > 1) {
          const { code } = await entry.client.closed;
          expect([1006, 1012]).toContain(code);
          entry.on = b;
          entry.client = await connect(p, streamId, entry.user, { url: b.url, carry: entry.client });
          expect(entry.client.frames.find((f) => f.type === 'history')?.resumed).toBe(true);
        }
        await new Promise((r) => setTimeout(r, 15)); // a pace, not an ordering: ~60 posts a second per client
      }
    };
    const running = clients.map((entry, n) => run(entry, n));
    await reached(() => clients.every((_, n) => (ackedBy.get(n) ?? 0) >= 5), 'five acks for every client');
    a.child.kill('SIGKILL');
    await reached(
      () => [0, 1, 2].every((n) => (ackedAfterResume.get(n) ?? 0) > 10) && acked.size > 100,
      "more than 10 acks through B for each of A's clients, 100 in all",
    ).finally(() => {
      stop = true;
    });
    await Promise.all(running);

    expect(clients.every((c) => c.on === b)).toBe(true);
    // A's clients (0–2) went on posting through B.
    for (const n of [0, 1, 2]) expect(ackedAfterResume.get(n)).toBeGreaterThan(10);
    const head = (await p.call('chat', 'GET', `/rooms/${streamId}`)).body.lastId as number;
    expect(acked.size).toBeGreaterThan(100);
    for (const { client } of clients) await client.until(() => client.lastId === head, 15_000, `item ${head}`);
    const first = sequence(clients[0]!.client);
    // Every id from 1 to the head, once, in order — on every client.
    expect(clients[0]!.client.items.map((i) => i.id)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    for (const { client } of clients) expect(sequence(client)).toEqual(first);
    const byId = new Map(clients[0]!.client.items.map((i) => [i.id, i.text]));
    for (const [id, text] of acked) expect(byId.get(id)).toBe(text);
  });
});
