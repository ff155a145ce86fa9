/**
 * `npm run bench:edge`: N viewers (BENCH_VIEWERS, default 500) watching one live stream, first through the edge,
 * then straight from the origin (ingest), in the same run on the same stream. Each viewer plays like an LL-HLS
 * player: a blocking reload for the next segment (`_HLS_msn=N`), then that segment, again and again.
 * Reports per phase: viewer requests per second, p99 per playlist and segment request, origin fetches per new
 * segment (from the edge's own metrics), and how many held reloads were answered within 100 ms of the segment
 * landing in storage (the ingest's own event). The stream is passthrough (no transcode slot) so that the
 * machine's cores go to the viewers. Writes bench/results/edge.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { percentile, publishPattern, segmentsOf, startMediaPlatform } from './lib/media.ts';

const viewers = Number(process.env.BENCH_VIEWERS ?? 500);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);

interface Phase {
  playlistMs: number[];
  segmentMs: number[];
  held: number;
  heldWithin100ms: number;
  errors: number;
  requests: number;
}

const media = await startMediaPlatform({ transcodeSlots: 0, thumbnailIntervalMs: 0, liveWindow: 6 });
const agent = new Agent({ connections: viewers + 50, pipelining: 1, keepAliveTimeout: 30_000 });

async function metric(name: string, kind: string) {
  const res = await request(`${media.edgeAdmin}/metrics`, { dispatcher: agent });
  const text = await res.body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`kind="${kind}"`));
  return Number(line?.split(' ').at(-1) ?? 0);
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

  async function phase(base: string, headers: Record<string, string>): Promise<Phase & { newSegments: number }> {
    const p: Phase = { playlistMs: [], segmentMs: [], held: 0, heldWithin100ms: 0, errors: 0, requests: 0 };
    const until = Date.now() + seconds * 1000;
    const firstSeq = Math.max(...landed.keys()) + 1;
    const viewer = async () => {
      let next = Math.max(...landed.keys()) + 1;
      while (Date.now() < until) {
        const sentAt = Date.now();
        const wasHeld = !landed.has(next);
        const res = await request(`${base}/streams/${streamId}/source/index.m3u8?_HLS_msn=${next}`, {
          dispatcher: agent,
          headers,
        }).catch(() => undefined);
        p.requests++;
        if (!res || res.statusCode !== 200) {
          p.errors++;
          await res?.body.dump();
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const text = await res.body.text();
        const answeredAt = Date.now();
        p.playlistMs.push(answeredAt - sentAt);
        const landedAt = landed.get(next);
        if (wasHeld && landedAt !== undefined) {
          p.held++;
          if (answeredAt - landedAt <= 100) p.heldWithin100ms++;
        }
        if (!segmentsOf(text).some((s) => s.seq === next)) {
          // Behind the live window or a bound reached: jump to the newest.
          next = Math.max(next, ...segmentsOf(text).map((s) => s.seq));
          continue;
        }
        const segStart = Date.now();
        const seg = await request(`${base}/streams/${streamId}/source/${String(next).padStart(6, '0')}.ts`, {
          dispatcher: agent,
          headers,
        }).catch(() => undefined);
        p.requests++;
        if (!seg || seg.statusCode !== 200) p.errors++;
        await seg?.body.dump();
        p.segmentMs.push(Date.now() - segStart);
        next++;
      }
    };
    await Promise.all(Array.from({ length: viewers }, viewer));
    return { ...p, newSegments: Math.max(...landed.keys()) + 1 - firstSeq };
  }

  const report = (p: Phase & { newSegments: number }) => ({
    viewerRequestsPerSec: Math.round(p.requests / seconds),
    p99Ms: { playlist: percentile(p.playlistMs, 99), segment: percentile(p.segmentMs, 99) },
    p50Ms: { playlist: percentile(p.playlistMs, 50), segment: percentile(p.segmentMs, 50) },
    blockingAnsweredWithin100ms: p.held === 0 ? 0 : Math.round((p.heldWithin100ms / p.held) * 1000) / 1000,
    heldReloads: p.held,
    errors: p.errors,
    newSegments: p.newSegments,
  });

  const before = {
    segment: await metric('edge_origin_fetches_total', 'segment'),
    playlist: await metric('edge_origin_fetches_total', 'playlist'),
  };
  const viaEdge = await phase(media.edge, {});
  const after = {
    segment: await metric('edge_origin_fetches_total', 'segment'),
    playlist: await metric('edge_origin_fetches_total', 'playlist'),
  };
  const direct = await phase(`${media.origin}/media`, { authorization: internal });
  publisher.stop();
  await publisher.exited;

  const edgeReport = report(viaEdge);
  const segments = Math.max(1, viaEdge.newSegments);
  const result = {
    viewers,
    originFetchesPerSegment: Math.round(((after.segment - before.segment) / segments) * 100) / 100,
    originPlaylistFetchesPerSegment: Math.round(((after.playlist - before.playlist) / segments) * 100) / 100,
    viewerRequestsPerSec: edgeReport.viewerRequestsPerSec,
    p99Ms: edgeReport.p99Ms,
    blockingAnsweredWithin100ms: edgeReport.blockingAnsweredWithin100ms,
    edge: edgeReport,
    direct: report(direct),
    setup: {
      stream:
        'ffmpeg testsrc2 640x360 30 fps + sine, passthrough (source copy only), 1 s segments (keyframe every 1 s)',
      viewer: 'blocking reload _HLS_msn=next, then the segment; repeat (an LL-HLS player at the live edge)',
      generator: 'the same process as the platform (undici, one keep-alive connection per viewer): a shared 2-core box',
      seconds,
      cpus: cpus().length,
      loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
      at: new Date().toISOString(),
    },
  };
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'edge.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await agent.close();
  await media.close();
}
