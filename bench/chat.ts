/**
 * `npm run bench:chat`: N WebSocket clients in one room (BENCH_CLIENTS, default 2000), every one a
 * logged-in user, posting M messages per second in turn (BENCH_RATE, default 100; with 2000 users
 * that is one message per user per 20 s, well under the default rate limit), for BENCH_SECONDS
 * (default 10) after a 2 s warm-up. Measured: items delivered per second over all clients and the
 * p50/p99 delivery latency (sender's send → a receiver's frame, both in this process, one clock).
 * BENCH_ROUNDS rounds (default 3), the servers taking turns; each reports its median round (by p99).
 *
 * The same load runs against livehouse chat (its own process: contents + chat on PostgreSQL and
 * Redis — the production path: Lua append, Redis pub/sub, room batching; PGlite and the in-memory
 * log when those are not reachable) and against a bare `ws` server in its own process that
 * re-sends every frame to every client (the practical limit of one Node process), and one that
 * batches like livehouse does but does nothing else (the ceiling of that design). The clients run
 * here, so server and clients share the machine's cores in every run; the load average of the
 * machine goes into the report.
 *
 * Writes bench/results/chat.json.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { InternalAuth } from '@livehouse/kit';
import { WebSocket, WebSocketServer } from 'ws';

const root = resolve(import.meta.dirname, '..');
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 2000);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_MS = 2000;
const TEXT_BYTES = 100;
const postgresUrl = process.env.LIVEHOUSE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.LIVEHOUSE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/14';

interface Ready {
  url: string;
  streamId?: string;
  key?: string;
  mode: string;
}

// ── the servers (child processes) ───────────────────────────────────────────────────────

async function reachable(check: () => Promise<unknown>) {
  try {
    await Promise.race([check(), new Promise((_, fail) => setTimeout(() => fail(new Error('timeout')), 2000))]);
    return true;
  } catch {
    return false;
  }
}

async function serveLivehouse(): Promise<Ready> {
  const { generateDevSecrets, openBackend, startPlatform } = await import('@livehouse/kit');
  const { contentsService } = await import('@livehouse/contents');
  const { chatService } = await import('@livehouse/chat');
  const { Redis } = await import('ioredis');
  const pg = (await import('pg')).default;
  const pgOk = await reachable(async () => {
    const c = new pg.Client({ connectionString: postgresUrl });
    await c.connect();
    await c.end();
  });
  const redisOk = await reachable(async () => {
    const r = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
    await r.connect();
    r.disconnect();
  });
  const secrets = generateDevSecrets();
  const backend = await openBackend(pgOk ? postgresUrl : 'memory://', { poolSize: 10 });
  const schemaPrefix = pgOk ? `chatbench_${randomBytes(3).toString('hex')}_` : '';
  const platform = await startPlatform([contentsService, chatService], {
    backend,
    env: secrets,
    schemaPrefix,
    config: (name) => ({
      log: { level: 'warn' },
      ...(name === 'chat' && {
        ...(redisOk && { redis: { url: redisUrl } }),
        chat: { redisPrefix: `livehouse:bench:${randomBytes(3).toString('hex')}:` },
      }),
    }),
  });
  const auth = new InternalAuth(secrets.LIVEHOUSE_INTERNAL_KEY as string);
  const owner = { id: randomUUID(), roles: ['streamer' as const] };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(platform.url('contents') + path, {
      method,
      headers: {
        authorization: `Bearer ${await auth.sign({ service: 'bff', user: owner })}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return (await res.json()) as Record<string, unknown>;
  };
  const { channel } = (await call('POST', '/channels', { title: 'bench' })) as { channel: { id: string } };
  const stream = await call('POST', `/channels/${channel.id}/streams`, { title: 'bench' });
  await call('POST', `/streams/${stream.id}/start`);
  process.on('SIGTERM', () => {
    void platform.close().finally(async () => {
      if (pgOk) {
        const c = new pg.Client({ connectionString: postgresUrl });
        await c.connect();
        const { rows } = await c.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like $1`, [
          `${schemaPrefix}%`,
        ]);
        for (const { nspname } of rows) await c.query(`drop schema "${nspname}" cascade`);
        await c.end();
      }
      await backend.close();
      process.exit(0);
    });
  });
  return {
    url: platform.url('chat'),
    streamId: stream.id as string,
    key: secrets.LIVEHOUSE_INTERNAL_KEY as string,
    mode: `${pgOk ? 'postgresql' : 'pglite'} + ${redisOk ? 'redis' : 'in-memory log'}`,
  };
}

/** Every text frame to every client, as it came: one `send` per client per message. */
async function serveBare(): Promise<Ready> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 4096 });
  await new Promise((ok) => wss.once('listening', ok));
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      for (const client of wss.clients)
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
  });
  process.on('SIGTERM', () => process.exit(0));
  const { port } = wss.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, mode: 'ws broadcast' };
}

/**
 * The same, but what arrives in one event-loop turn goes out as one frame, one Buffer for all:
 * livehouse's delivery technique with nothing else (no auth, validation, limits, Redis, storage).
 */
async function serveBareBatched(): Promise<Ready> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 4096 });
  await new Promise((ok) => wss.once('listening', ok));
  let batch: string[] = [];
  const flush = () => {
    const frame = Buffer.from(`[${batch.join(',')}]`);
    batch = [];
    for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(frame, { binary: false });
  };
  wss.on('connection', (ws) => {
    ws.on('message', (data) => {
      if (batch.length === 0) setImmediate(flush);
      batch.push(data.toString());
    });
  });
  process.on('SIGTERM', () => process.exit(0));
  const { port } = wss.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, mode: 'ws broadcast, batched per event-loop turn' };
}

type Kind = 'livehouse' | 'bare' | 'bare-batched';

function startServer(kind: Kind): Promise<{ child: ChildProcess; ready: Ready }> {
  const child = spawn(join(root, 'node_modules/.bin/node'), [import.meta.filename, 'serve', kind], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  return new Promise((ok, fail) => {
    child.stdout?.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{"ready"'));
      if (line) ok({ child, ready: (JSON.parse(line) as { ready: Ready }).ready });
    });
    child.on('exit', (code) => fail(new Error(`the ${kind} server exited (${code}): ${out}`)));
  });
}

/** CPU seconds a process has used so far (user + system), from /proc. */
function cpuSeconds(pid: number) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

// ── the clients (this process) ──────────────────────────────────────────────────────────

/** Latencies in 0.1 ms buckets up to 60 s. */
class Histogram {
  readonly buckets = new Uint32Array(600_000);
  count = 0;
  add(ms: number) {
    const i = Math.min(this.buckets.length - 1, Math.max(0, Math.floor(ms * 10)));
    this.buckets[i] = (this.buckets[i] as number) + 1;
    this.count++;
  }
  quantile(q: number) {
    let seen = 0;
    const target = Math.ceil(this.count * q);
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i] as number;
      if (seen >= target) return (i + 1) / 10;
    }
    return Number.NaN;
  }
}

const MARK = '"text":"';

async function runLoad(kind: Kind) {
  const { child, ready } = await startServer(kind);
  const auth = ready.key ? new InternalAuth(ready.key) : undefined;
  const path = kind === 'livehouse' ? `/rooms/${ready.streamId}/ws` : '/';
  const base = ready.url.replace(/^http/, 'ws');
  const histogram = new Histogram();
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let delivered = 0;
  let sentInWindow = 0;
  let errors = 0;
  let frames = 0;
  let closed = 0;

  // Every message's text starts with its send time; a receiver needs no JSON.parse to find it.
  const onFrame = (data: Buffer) => {
    frames++;
    const now = performance.now();
    const text = data.toString();
    if (text.startsWith('{"type":"error"')) errors++;
    for (let at = text.indexOf(MARK); at >= 0; at = text.indexOf(MARK, at + 1)) {
      const sentAt = Number.parseFloat(text.slice(at + MARK.length, at + MARK.length + 20));
      if (sentAt >= windowStart && sentAt < windowEnd) {
        delivered++;
        histogram.add(now - sentAt);
      }
    }
  };

  const sockets: WebSocket[] = [];
  const connectOne = async () => {
    const user = { id: randomUUID(), roles: ['viewer' as const] };
    const headers = auth ? { authorization: `Bearer ${await auth.sign({ service: 'bff', user })}` } : undefined;
    const ws = new WebSocket(base + path, { headers, perMessageDeflate: false });
    await new Promise<void>((ok, fail) => {
      ws.once('open', () => ok());
      ws.once('error', fail);
    });
    ws.on('message', onFrame);
    ws.on('close', () => closed++);
    ws.on('error', () => {});
    sockets.push(ws);
  };
  const connectStarted = performance.now();
  for (let i = 0; i < CLIENTS; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, CLIENTS - i) }, connectOne));
  }
  const connectSeconds = (performance.now() - connectStarted) / 1000;
  await new Promise((r) => setTimeout(r, 500));

  // Round-robin senders at RATE per second, in 10 ms ticks.
  const pad = 'x'.repeat(TEXT_BYTES);
  let next = 0;
  let owed = 0;
  let last = performance.now();
  const started = performance.now();
  windowStart = started + WARMUP_MS;
  windowEnd = windowStart + SECONDS * 1000;
  const ticker = setInterval(() => {
    const now = performance.now();
    owed += ((now - last) * RATE) / 1000;
    last = now;
    while (owed >= 1 && now < windowEnd) {
      owed -= 1;
      const ws = sockets[next++ % sockets.length] as WebSocket;
      const sentAt = performance.now();
      if (sentAt >= windowStart && sentAt < windowEnd) sentInWindow++;
      const text = `${sentAt.toFixed(3)} ${pad}`.slice(0, TEXT_BYTES);
      if (ws.readyState === WebSocket.OPEN) ws.send(`{"type":"send","text":"${text}"}`);
    }
  }, 10);
  const cpuStart = { server: 0, clients: 0 };
  await new Promise((r) => setTimeout(r, windowStart - performance.now()));
  cpuStart.server = cpuSeconds(child.pid as number);
  cpuStart.clients = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  await new Promise((r) => setTimeout(r, windowEnd - performance.now()));
  const serverCpu = (cpuSeconds(child.pid as number) - cpuStart.server) / SECONDS;
  const clientsCpu = (process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 - cpuStart.clients) / SECONDS;
  clearInterval(ticker);
  // Late deliveries of in-window messages still count (their latency shows how late).
  await new Promise((r) => setTimeout(r, 3000));

  const expected = sentInWindow * CLIENTS;
  const result = {
    deliveredPerSec: Math.round(delivered / SECONDS),
    p50Ms: histogram.quantile(0.5),
    p99Ms: histogram.quantile(0.99),
    sentPerSec: Math.round(sentInWindow / SECONDS),
    delivered,
    expected,
    lost: expected - delivered,
    framesPerSec: Math.round(frames / (SECONDS + 5.5)),
    errorFrames: errors,
    disconnected: closed,
    serverCpuCores: Number(serverCpu.toFixed(2)),
    clientsCpuCores: Number(clientsCpu.toFixed(2)),
    connectSeconds: Number(connectSeconds.toFixed(1)),
    mode: ready.mode,
  };
  for (const ws of sockets) ws.terminate();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return result;
}

if (process.argv[2] === 'serve') {
  const kind = process.argv[3];
  const ready =
    kind === 'bare' ? await serveBare() : kind === 'bare-batched' ? await serveBareBatched() : await serveLivehouse();
  process.stdout.write(`${JSON.stringify({ ready })}\n`);
} else {
  const loadAtStart = loadavg();
  console.log(
    `bench:chat — ${CLIENTS} clients in one room, ${RATE} messages/s, ${SECONDS} s (after ${WARMUP_MS / 1000} s warm-up)`,
  );
  // The machine is shared: the kinds take turns, ROUNDS times, and each reports its median round.
  const kinds: Kind[] = ['livehouse', 'bare', 'bare-batched'];
  const rounds: Record<Kind, Awaited<ReturnType<typeof runLoad>>[]> = { livehouse: [], bare: [], 'bare-batched': [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const kind of kinds) {
      const result = await runLoad(kind);
      rounds[kind].push(result);
      console.log(
        `round ${r + 1} ${kind}: ${result.deliveredPerSec}/s, p99 ${result.p99Ms} ms, server ${result.serverCpuCores} cores`,
      );
    }
  }
  // By p99: rounds that delivered everything differ only by where the window cut; latency is what varies.
  const median = (runs: Awaited<ReturnType<typeof runLoad>>[]) =>
    [...runs].sort((a, b) => a.p99Ms - b.p99Ms)[Math.floor(runs.length / 2)] as Awaited<ReturnType<typeof runLoad>>;
  const livehouse = median(rounds.livehouse);
  const bareWs = median(rounds.bare);
  const bareWsBatched = median(rounds['bare-batched']);
  const report = {
    clients: CLIENTS,
    messagesPerSec: RATE,
    seconds: SECONDS,
    livehouse,
    /** A frame per message per client: what a plain broadcast server does. */
    bareWs,
    ratio: Number((livehouse.deliveredPerSec / bareWs.deliveredPerSec).toFixed(3)),
    /** The same delivery technique as livehouse with nothing else: the ceiling of this design. */
    bareWsBatched,
    ratioToBatched: Number((livehouse.deliveredPerSec / bareWsBatched.deliveredPerSec).toFixed(3)),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavgAtStart: loadAtStart, loadavgAtEnd: loadavg() },
    rounds: Object.fromEntries(
      kinds.map((k) => [
        k,
        rounds[k].map((r) => ({
          deliveredPerSec: r.deliveredPerSec,
          p99Ms: r.p99Ms,
          serverCpuCores: r.serverCpuCores,
        })),
      ]),
    ),
    at: new Date().toISOString(),
  };
  await mkdir(join(root, 'bench/results'), { recursive: true });
  await writeFile(join(root, 'bench/results/chat.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `delivered/s livehouse ${livehouse.deliveredPerSec} (p99 ${livehouse.p99Ms} ms) · bare ws ${bareWs.deliveredPerSec} (p99 ${bareWs.p99Ms} ms) · ratio ${report.ratio} · bare ws batched ${bareWsBatched.deliveredPerSec} (p99 ${bareWsBatched.p99Ms} ms) · ratio ${report.ratioToBatched}`,
  );
  process.exit(0);
}
