/**
 * `npm run bench:video`: publish → edge latency of live video on this machine. ffmpeg publishes a test
 * pattern over RTMP to ingest (the default ladder: source copy + 480p + 360p, 1 s segments); a viewer
 * holds blocking reloads (`_HLS_msn=N`) on the edge and fetches each new segment the moment it is listed.
 *
 * Method: segment arrival timestamped against the publisher's own clock. ffmpeg's `-progress` reports, every
 * 100 ms, how many media seconds it has sent; segment N holds media [start N, end N) (the sum of the EXTINF
 * durations before it), so its first frame was published at sentAt(start N). Latency = the wall-clock moment
 * its bytes were fetched through the edge − sentAt(start N): the oldest frame it holds, so one segment length
 * is included. (A burned-in wall clock would need OCR of the frames; the publisher's clock is exact to 100 ms
 * and needs nothing but ffmpeg.) Writes bench/results/video.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { percentile, publishPattern, segmentsOf, startMediaPlatform } from './lib/media.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 40);
const size = process.env.BENCH_SIZE ?? '1280x720';
const preset = process.env.BENCH_PRESET ?? 'veryfast';
const WARMUP_SEGMENTS = 3;

async function watch(
  edge: string,
  streamId: string,
  rendition: string,
  sentAt: (t: number) => number | undefined,
  until: number,
) {
  const samples: { seq: number; fromFirstFrameMs: number; fromLastFrameMs: number }[] = [];
  const durations = new Map<number, number>();
  let next = 0;
  while (Date.now() < until) {
    const res = await fetch(`${edge}/streams/${streamId}/${rendition}/index.m3u8?_HLS_msn=${next}`);
    if (res.status !== 200) {
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    for (const s of segmentsOf(await res.text())) durations.set(s.seq, s.duration);
    if (!durations.has(next)) continue;
    const seg = await fetch(`${edge}/streams/${streamId}/${rendition}/${String(next).padStart(6, '0')}.ts`);
    await seg.arrayBuffer();
    const fetchedAt = Date.now();
    let start = 0;
    for (let i = 0; i < next; i++) start += durations.get(i) ?? 1;
    const end = start + (durations.get(next) ?? 1);
    const first = sentAt(start);
    const last = sentAt(end);
    if (seg.status === 200 && first !== undefined && last !== undefined && next >= WARMUP_SEGMENTS) {
      samples.push({ seq: next, fromFirstFrameMs: fetchedAt - first, fromLastFrameMs: fetchedAt - last });
    }
    next++;
  }
  return samples;
}

const media = await startMediaPlatform({ preset, transcodeSlots: 1, thumbnailIntervalMs: 20_000 });
try {
  const { channelId, key } = await media.channel();
  const publisher = publishPattern(`${media.rtmpUrl}/${key}`, { size });
  const streamId = await media.liveStreamId(channelId);
  const until = Date.now() + seconds * 1000;
  const speeds: number[] = [];
  const speedTimer = setInterval(() => {
    const s = media.ingest.lives.get(streamId)?.speed;
    if (s !== undefined) speeds.push(s);
  }, 1000);
  const [source, lowest] = await Promise.all([
    watch(media.edge, streamId, 'source', publisher.sentAt, until),
    watch(media.edge, streamId, '360p', publisher.sentAt, until),
  ]);
  clearInterval(speedTimer);
  publisher.stop();
  await publisher.exited;
  const summary = (samples: typeof source) => {
    const ms = samples.map((s) => s.fromFirstFrameMs);
    return { p50: percentile(ms, 50), p95: percentile(ms, 95), max: Math.max(0, ...ms), samples: ms.length };
  };
  const transcoded = summary(lowest);
  const result = {
    segmentSeconds: 1,
    // The ladder's transcoded rendition: what most viewers watch, and the slower path.
    publishToEdgeMs: { p50: transcoded.p50, p95: transcoded.p95, max: transcoded.max },
    samples: transcoded.samples,
    method:
      "segment arrival through the edge (blocking _HLS_msn reload, then the segment's bytes) timestamped against the publisher's clock: ffmpeg -progress out_time every 100 ms gives when each media second was sent; latency = fetched − sent(first frame of the segment), so it includes the segment's own 1 s",
    renditions: {
      '360p': transcoded,
      source: summary(source),
    },
    fromLastFrameMs: {
      '360p': {
        p50: percentile(
          lowest.map((s) => s.fromLastFrameMs),
          50,
        ),
        p95: percentile(
          lowest.map((s) => s.fromLastFrameMs),
          95,
        ),
      },
      source: {
        p50: percentile(
          source.map((s) => s.fromLastFrameMs),
          50,
        ),
        p95: percentile(
          source.map((s) => s.fromLastFrameMs),
          95,
        ),
      },
    },
    goal: { p95Ms: 2500, met: transcoded.p95 <= 2500 },
    setup: {
      publisher: `ffmpeg testsrc2 ${size} 30 fps + sine, libx264 ultrafast, keyframe every 1 s, -re`,
      ladder: 'source copy + 480p + 360p (libx264 -tune zerolatency, keyframes forced every 1 s), AAC',
      preset,
      ffmpegSpeed: { min: Math.min(...speeds), median: percentile(speeds, 50) },
      seconds,
      cpus: cpus().length,
      loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
      at: new Date().toISOString(),
    },
  };
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'video.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  await media.close();
}
