/**
 * `npm run bench:edge`: N viewers (BENCH_VIEWERS, default 500) watching one live stream, first through the edge,
 * then straight from the origin (ingest), in the same run on the same stream. Each viewer plays like an LL-HLS
 * player: a blocking reload for the next segment (`_HLS_msn=N`), then that segment, again and again.
 *
 * Processes: this one runs contents and ingest (with the publisher's ffmpeg); the edge is `livehouse serve edge`
 * in its own process (its pod); the viewers run in BENCH_VIEWER_THREADS worker threads (default 2), each with
 * its own undici pool, so that neither the edge nor the origin shares its event loop with the load generator.
 *
 * Reports per phase: viewer requests per second, p50/p99 per playlist and segment request, and how many held
 * reloads were answered within 100 ms of the segment landing in storage (ingest's own event, same clock); for
 * the edge, origin fetches per new segment (from the edge's metrics: the goal is ≤ 1 whatever N). The stream is
 * passthrough (no transcode slot) so that the cores go to the viewers. Writes bench/results/edge.json.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { percentile, publishPattern, startMediaPlatform } from './lib/media.ts';
import type { ViewerJob, ViewerResult } from './lib/viewers.ts';

const viewers = Number(process.env.BENCH_VIEWERS ?? 500);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const threads = Math.max(1, Number(process.env.BENCH_VIEWER_THREADS ?? 2));

const media = await startMediaPlatform({ transcodeSlots: 0, thumbnailIntervalMs: 0, liveWindow: 6 });

async function metric(name: string, kind: string) {
  const text = await (await fetch(`${media.edgeAdmin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`kind="${kind}"`));
  return Number(line?.split(' ').at(-1) ?? 0);
}

/** CPU seconds a process has used (user + system), from /proc: where each phase's work went. */
function cpuSeconds(pid: number | undefined) {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

try {
  const { channelId, key } = await media.channel();
  const publisher = publishPattern(`${media.rtmpUrl}/${key}`, { size: '640x360' });
  const streamId = await media.liveStreamId(channelId);
  // When each segment landed in storage, from the ingest that wrote it.
  const landed = new Map<number, number>();
  for (;;) {
    const live = media.ingest.lives.get(streamId);
    if (live) {
      live.events.on('segment', (rendition: string, seq: number) => {
        if (rendition === 'source') landed.set(seq, Date.now());
      });
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  while (landed.size < 2) await new Promise((r) => setTimeout(r, 100));
  const internal = `Bearer ${await media.token('edge')}`;

  async function phase(base: string, headers: Record<string, string>) {
    const firstSeq = Math.max(...landed.keys()) + 1;
    const untilMs = Date.now() + seconds * 1000;
    const cpu = { edge: cpuSeconds(media.edgePid), platform: process.cpuUsage() };
    const jobs = Array.from({ length: threads }, (_, i): ViewerJob => {
      const share = Math.floor(viewers / threads) + (i < viewers % threads ? 1 : 0);
      return { base, streamId, headers, viewers: share, firstSeq, untilMs };
    });
    const results = await Promise.all(
      jobs.map(
        (job) =>
          new Promise<ViewerResult>((resolve, reject) => {
            const worker = new Worker(new URL('./lib/viewers.ts', import.meta.url), { workerData: job });
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      ),
    );
    const newSegments = Math.max(...landed.keys()) + 1 - firstSeq;
    const reloads = results.flatMap((r) => r.reloads);
    const playlistMs = reloads.map((r) => r.answeredAt - r.sentAt);
    const segmentMs = results.flatMap((r) => r.segmentMs);
    const requests = results.reduce((n, r) => n + r.requests, 0);
    // Held: asked before its segment existed. Answered within 100 ms of the segment landing in storage.
    let held = 0;
    let within = 0;
    const afterLanding: number[] = [];
    for (const r of reloads) {
      const at = landed.get(r.seq);
      if (at === undefined || r.sentAt >= at) continue;
      held++;
      afterLanding.push(r.answeredAt - at);
      if (r.answeredAt - at <= 100) within++;
    }
    const platformCpu = process.cpuUsage(cpu.platform);
    return {
      viewerRequestsPerSec: Math.round(requests / seconds),
      p99Ms: { playlist: percentile(playlistMs, 99), segment: percentile(segmentMs, 99) },
      p50Ms: { playlist: percentile(playlistMs, 50), segment: percentile(segmentMs, 50) },
      blockingAnsweredWithin100ms: held === 0 ? 0 : Math.round((within / held) * 1000) / 1000,
      heldReloads: held,
      // A held reload's playlist time is mostly the wait for the segment: this is what delivery adds.
      heldAnsweredAfterLandingMs: { p50: percentile(afterLanding, 50), p99: percentile(afterLanding, 99) },
      errors: results.reduce((n, r) => n + r.errors, 0),
      requests,
      newSegments,
      cpuSeconds: {
        edgeProcess: Math.round((cpuSeconds(media.edgePid) - cpu.edge) * 10) / 10,
        // This process: contents, ingest and the viewer threads together.
        platformAndViewers: Math.round(((platformCpu.user + platformCpu.system) / 1e6) * 10) / 10,
      },
    };
  }

  const before = {
    segment: await metric('edge_origin_fetches_total', 'segment'),
    playlist: await metric('edge_origin_fetches_total', 'playlist'),
  };
  const loadBefore = loadavg();
  const viaEdge = await phase(media.edge, {});
  const after = {
    segment: await metric('edge_origin_fetches_total', 'segment'),
    playlist: await metric('edge_origin_fetches_total', 'playlist'),
  };
  const direct = await phase(`${media.origin}/media`, { authorization: internal });
  publisher.stop();
  await publisher.exited;

  const segments = Math.max(1, viaEdge.newSegments);
  const round = (n: number) => Math.round(n * 100) / 100;
  const result = {
    viewers,
    originFetchesPerSegment: round((after.segment - before.segment) / segments),
    originPlaylistFetchesPerSegment: round((after.playlist - before.playlist) / segments),
    viewerRequestsPerSec: viaEdge.viewerRequestsPerSec,
    p99Ms: viaEdge.p99Ms,
    blockingAnsweredWithin100ms: viaEdge.blockingAnsweredWithin100ms,
    edge: viaEdge,
    direct: {
      ...direct,
      // Every viewer request is an origin request without the edge.
      originRequestsPerSegment: round(direct.requests / Math.max(1, direct.newSegments)),
    },
    setup: {
      stream:
        'ffmpeg testsrc2 640x360 30 fps + sine, passthrough (source copy only), 1 s segments (keyframe every 1 s)',
      viewer: 'blocking reload _HLS_msn=next, then the segment; repeat (an LL-HLS player at the live edge)',
      generator: `${threads} worker threads (undici, one keep-alive connection per viewer), off the platform's event loop; the edge is its own process (livehouse serve edge); contents + ingest in the bench process`,
      seconds,
      cpus: cpus().length,
      loadAverage: { before: loadBefore.map(round), after: loadavg().map(round) },
      at: new Date().toISOString(),
    },
  };
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'edge.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await media.close();
}
