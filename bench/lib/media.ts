import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { contentsService } from '@livehouse/contents';
import { ingestService } from '@livehouse/ingest';
import { depsOf, generateDevSecrets, InternalAuth, openBackend, startPlatform } from '@livehouse/kit';
import { freePort } from '@livehouse/kit/testing/ports';
import { thumbnailService } from '@livehouse/thumbnail';

const root = resolve(import.meta.dirname, '../..');

/**
 * `livehouse serve edge` in its own process, as its pod runs it: the edge's latencies are its own, not
 * those of the ingest and ffmpeg supervision sharing its event loop.
 */
async function startEdgeProcess(dir: string, origin: string, internalKey: string) {
  const [port, adminPort] = [await freePort(), await freePort()];
  const config = join(dir, 'edge.yaml');
  await writeFile(
    config,
    [
      `http: { host: 127.0.0.1, port: ${port}, adminPort: ${adminPort}, shutdownTimeoutMs: 1000 }`,
      `services: { ingest: "${origin}" }`,
      'log: { level: warn }',
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['packages/cli/src/main.ts', 'serve', 'edge', '--config', config], {
    cwd: root,
    env: { PATH: process.env.PATH, LIVEHOUSE_INTERNAL_KEY: internalKey },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`edge exited with ${child.exitCode}`);
    if ((await fetch(`${admin}/readyz`).catch(() => undefined))?.status === 200) break;
    if (i > 600) throw new Error('edge did not become ready in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    admin,
    pid: child.pid,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * The media plane as `livehouse up` runs it (embedded PGlite in memory), for benchmarks; the edge in
 * a process of its own, as in production.
 */
export async function startMediaPlatform(ingest: Record<string, unknown>) {
  const dir = await mkdtemp(join(tmpdir(), 'livehouse-bench-media-'));
  const rtmpPort = await freePort();
  const backend = await openBackend('memory://');
  const secrets = generateDevSecrets();
  const platform = await startPlatform([contentsService, thumbnailService, ingestService], {
    backend,
    env: secrets,
    relay: { pollMs: 50 },
    config: (name) => ({
      log: { level: 'warn' },
      ...(name === 'thumbnail' && { thumbnail: { storage: { kind: 'filesystem', dir: join(dir, 'thumbs') } } }),
      ...(name === 'ingest' && {
        ingest: {
          rtmp: { port: rtmpPort },
          workDir: join(dir, 'work'),
          storage: { kind: 'filesystem', dir: join(dir, 'media') },
          drainMs: 500,
          ...ingest,
        },
      }),
    }),
  });
  const auth = new InternalAuth(secrets.LIVEHOUSE_INTERNAL_KEY as string);
  const streamer = { id: randomUUID(), roles: ['streamer' as const] };
  const token = (service: string, user?: typeof streamer) => auth.sign({ service, ...(user && { user }) });
  const built = platform.services.get('ingest')?.built;
  if (!built) throw new Error('ingest did not start');
  const ingestInstance = depsOf(built, ingestService).ingest;
  const edge = await startEdgeProcess(dir, platform.url('ingest'), secrets.LIVEHOUSE_INTERNAL_KEY as string);
  return {
    rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live`,
    edge: edge.url,
    edgeAdmin: edge.admin,
    edgePid: edge.pid,
    origin: platform.url('ingest'),
    ingest: ingestInstance,
    token,
    /** A new streamer's channel (one channel per streamer) and its stream key. */
    async channel() {
      const owner = { ...streamer, id: randomUUID() };
      const res = await fetch(`${platform.url('contents')}/channels`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token('bff', owner)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: 'Bench' }),
      });
      const body = (await res.json()) as { channel: { id: string }; streamKey: string };
      return { channelId: body.channel.id, key: body.streamKey };
    },
    async liveStreamId(channelId: string) {
      for (;;) {
        const res = await fetch(`${platform.url('contents')}/channels/${channelId}`, {
          headers: { authorization: `Bearer ${await token('bff')}` },
        });
        const body = (await res.json()) as { liveStreamId: string | null };
        if (body.liveStreamId) return body.liveStreamId;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      await edge.close();
      await platform.close();
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * ffmpeg publishing a test pattern with a tone in real time, keyframe every second. `clock` maps the
 * media seconds it has sent (`-progress` out_time) to the wall clock when it reported them.
 */
export function publishPattern(url: string, options: { size: string; seconds?: number }) {
  const args = [
    ...['-hide_banner', '-loglevel', 'error', '-progress', 'pipe:1', '-stats_period', '0.1', '-re'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=${options.size}:rate=30`],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    ...(options.seconds ? ['-t', String(options.seconds)] : []),
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p'],
    // A keyframe exactly every second (no scene-cut ones): segments of exactly 1 s, aligned renditions.
    ...['-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0'],
    ...['-c:a', 'aac', '-b:a', '64k', '-f', 'flv', url],
  ];
  const child: ChildProcess = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const clock: { media: number; wall: number }[] = [];
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    for (const m of text.matchAll(/out_time_us=(\d+)/g)) clock.push({ media: Number(m[1]) / 1e6, wall: Date.now() });
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    child,
    exited,
    /** Wall-clock ms at which media second `t` had been sent (the first report at or past it). */
    sentAt(t: number) {
      return clock.find((c) => c.media >= t)?.wall;
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGINT');
    },
  };
}

export function percentile(values: readonly number[], p: number) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** EXTINF durations and segment numbers of a media playlist. */
export function segmentsOf(playlist: string) {
  const out: { seq: number; duration: number }[] = [];
  let duration = 0;
  for (const line of playlist.split('\n')) {
    if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    const m = /^(?:[a-z0-9_-]+\/)?(\d+)\.ts$/.exec(line.trim());
    if (m) out.push({ seq: Number(m[1]), duration });
  }
  return out;
}

/** A pre-encoded 720p test pattern with tone (1 s GOP), made once: publishing it costs almost no CPU. */
export async function patternFile(dir: string, size = '1280x720') {
  const file = join(dir, `pattern-${size}.flv`);
  const args = [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...[
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${size}:rate=30`,
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000',
    ],
    ...['-t', '10', '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2500k', '-pix_fmt', 'yuv420p'],
    ...['-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0', '-c:a', 'aac', '-b:a', '128k', file],
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`ffmpeg could not make ${file}`);
  return file;
}

/** ffmpeg looping `file` to RTMP in real time with -c copy (≈1–2 % of a core: the publisher is not the load). */
export function publishFile(url: string, file: string) {
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-re',
    '-stream_loop',
    '-1',
    '-i',
    file,
    '-c',
    'copy',
    '-f',
    'flv',
    url,
  ];
  const child: ChildProcess = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'ignore'] });
  return {
    child,
    stop() {
      if (child.exitCode === null) child.kill('SIGINT');
    },
  };
}
