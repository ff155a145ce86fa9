import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentsService } from '@livehouse/contents';
import { edgeService } from '@livehouse/edge';
import { depsOf, generateDevSecrets, InternalAuth, loggerOptions, startPlatform } from '@livehouse/kit';
import { type DbKind, openTestBackend, type TestBackend, type TestBody } from '@livehouse/kit/testing';
import { freePort } from '@livehouse/kit/testing/ports';
import { thumbnailService } from '@livehouse/thumbnail';
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { expect } from 'vitest';
import { type Ingest, ingestService } from '../src/index.ts';

export type User = { id: string; roles: ('viewer' | 'streamer' | 'admin')[] };
export const newStreamer = (): User => ({ id: randomUUID(), roles: ['streamer'] });

/** The test ladder: the source (360p) copied, and two small renditions; ultrafast to spare the 2 cores. */
export const testLadder = [
  { name: 'source', copy: true, audioKbps: 64 },
  { name: '240p', height: 240, videoKbps: 300, audioKbps: 64 },
  { name: '180p', height: 180, videoKbps: 200, audioKbps: 48 },
];

/** A platform as a test sees it: calls with internal tokens, and every log line the services wrote. */
export interface Platform {
  url(name: string): string;
  call(
    name: string,
    method: string,
    path: string,
    options?: { body?: unknown; user?: User; as?: string },
  ): Promise<{ status: number; body: TestBody }>;
  logs: string[];
  /** The running Ingest (its lives, its RTMP port). */
  ingest(): Ingest;
}

export interface MediaPlatform {
  p: Platform;
  backend: TestBackend;
  rtmpPort: number;
  rtmpUrl: string;
  workDir: string;
  mediaDir: string;
  edge: string;
  /** A service's admin port (metrics). */
  adminUrl(name: string): string;
  close(): Promise<void>;
}

/** Log lines as JSON text, in memory: tests assert what was (and was not) logged. */
function memoryLogger(name: string, logs: string[]) {
  const stream = { write: (line: string) => logs.push(line) };
  return pino({ ...loggerOptions(name, 'info') }, stream) as unknown as FastifyBaseLogger;
}

export async function startMedia(
  kind: DbKind,
  ingest: Record<string, unknown> = {},
  options: { rtmpPort?: number; workDir?: string; mediaDir?: string; backend?: TestBackend } = {},
): Promise<MediaPlatform> {
  const rtmpPort = options.rtmpPort ?? (await freePort());
  const root = await mkdtemp(join(tmpdir(), 'livehouse-ingest-'));
  const workDir = options.workDir ?? join(root, 'work');
  const mediaDir = options.mediaDir ?? join(root, 'media');
  const backend = options.backend ?? (await openTestBackend(kind));
  const secrets = generateDevSecrets();
  const logs: string[] = [];
  const platform = await startPlatform([contentsService, thumbnailService, ingestService, edgeService], {
    backend: backend.backend,
    env: secrets,
    schemaPrefix: backend.schemaPrefix,
    relay: { pollMs: 20 },
    logger: (name) => memoryLogger(name, logs),
    config: (name) => {
      if (name === 'thumbnail') return { thumbnail: { storage: { kind: 'filesystem', dir: join(root, 'thumbs') } } };
      if (name === 'ingest')
        return {
          ingest: {
            rtmp: { port: rtmpPort },
            workDir,
            storage: { kind: 'filesystem', dir: mediaDir },
            ladder: testLadder,
            preset: 'ultrafast',
            // A loaded test machine must not drop the ladder under a test that expects it (passthrough.test.ts forces it).
            ladderFallback: { minSpeed: 0 },
            graceMs: 3000,
            thumbnailIntervalMs: 2000,
            heartbeatMs: 500,
            drainMs: 500,
            instanceId: `test-${randomUUID().slice(0, 8)}`,
            ...ingest,
          },
        };
      return {};
    },
  }).catch(async (err: unknown) => {
    if (!options.backend) await backend.close();
    throw err;
  });
  const auth = new InternalAuth(secrets.LIVEHOUSE_INTERNAL_KEY as string);
  const p: Platform = {
    url: (name) => platform.url(name),
    logs,
    ingest() {
      const built = platform.services.get('ingest')?.built;
      if (!built) throw new Error('ingest is not running');
      return depsOf(built, ingestService).ingest;
    },
    async call(name, method, path, opts = {}) {
      const token = await auth.sign({ service: opts.as ?? 'bff', ...(opts.user && { user: opts.user }) });
      const res = await fetch(platform.url(name) + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(opts.body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  };
  return {
    p,
    backend,
    rtmpPort,
    rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live`,
    workDir,
    mediaDir,
    edge: platform.url('edge'),
    adminUrl(name) {
      const s = platform.services.get(name);
      if (!s) throw new Error(`${name} is not running`);
      return s.adminUrl;
    },
    async close() {
      await platform.close();
      if (!options.backend) await backend.close();
    },
  };
}

/** A streamer with a channel; its stream key. */
export async function channelWithKey(p: Platform) {
  const owner = newStreamer();
  const res = await p.call('contents', 'POST', '/channels', { user: owner, body: { title: 'Test pattern TV' } });
  expect(res.status).toBe(201);
  return { owner, channelId: res.body.channel.id as string, key: res.body.streamKey as string };
}

/**
 * ffmpeg pushing a test pattern with a tone, in real time (-re), 30 fps with a keyframe every second
 * (so every rendition's segments align on the source's). Resolves `exited` when it is gone.
 */
export function publish(url: string, options: { seconds?: number; size?: string } = {}) {
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-progress',
    'pipe:1',
    '-stats_period',
    '0.2',
    '-re',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${options.size ?? '640x360'}:rate=30`,
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    ...(options.seconds ? ['-t', String(options.seconds)] : []),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-g',
    '30',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    '-f',
    'flv',
    url,
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Media seconds sent so far, from -progress: what was really published, even under load.
  let sentSeconds = 0;
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    for (const m of text.matchAll(/out_time_us=(\d+)/g)) sentSeconds = Number(m[1]) / 1e6;
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr, sentSeconds: () => sentSeconds };
}

export function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL') {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
}

/** Polls `check` until it returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, text: body.toString('utf8') };
}

export async function filesUnder(dir: string) {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  } catch {
    return [];
  }
}

/** Segment numbers a media playlist lists. */
export const listedSegments = (playlist: string) =>
  playlist
    .split('\n')
    .filter((l) => /^\d+\.ts$/.test(l.trim()) || /\/\d+\.ts$/.test(l.trim()))
    .map((l) => Number(/(\d+)\.ts/.exec(l)?.[1]));
