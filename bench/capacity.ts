/**
 * `npm run bench:capacity`: how many live streams one ingest instance holds on this machine with ffmpeg at
 * real time. Publishers loop a pre-encoded 720p30 pattern (2.5 Mbit/s, 1 s GOP) with -c copy, so that they
 * cost next to nothing; streams are added one step at a time and, after each step has run for a while, every
 * stream's speed against its input is read (media seconds ffmpeg wrote per media second it was fed, over 5 s
 * of input: `Live.inputSpeed`, the measure the ladder fallback uses). A step holds when every stream is at
 * ≥ 0.97 (the measure's jitter over 5 s is a few frames).
 *
 * 1. Ladders: the default ladder (source copy + 480p + 360p, veryfast), as many slots as streams, and the
 *    fallback on (below 0.95× over 5 s → passthrough): past capacity a ladder is dropped, never a publish.
 * 2. Passthrough: no slot, steps of BENCH_PASSTHROUGH_STEP streams (default 10) up to BENCH_PASSTHROUGH_MAX (30).
 * Writes bench/results/capacity.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { patternFile, publishFile, startMediaPlatform } from './lib/media.ts';

const HOLDS = 0.97;
const maxLadders = Number(process.env.BENCH_LADDER_MAX ?? 6);
const passStep = Number(process.env.BENCH_PASSTHROUGH_STEP ?? 10);
const passMax = Number(process.env.BENCH_PASSTHROUGH_MAX ?? 30);
const settleMs = Number(process.env.BENCH_SETTLE_MS ?? 8000);
const round = (n: number) => Math.round(n * 1000) / 1000;

type Media = Awaited<ReturnType<typeof startMediaPlatform>>;
type Publisher = ReturnType<typeof publishFile>;

async function addStream(media: Media, file: string, publishers: Publisher[], ids: string[]) {
  const { channelId, key } = await media.channel();
  publishers.push(publishFile(`${media.rtmpUrl}/${key}`, file));
  ids.push(await media.liveStreamId(channelId));
}

/** Every stream's speed against its input once the step has run `settleMs` (the lowest of two reads). */
async function measure(media: Media, ids: string[], publishers: Publisher[]) {
  await new Promise((r) => setTimeout(r, settleMs));
  const lowest = new Map<string, number>();
  for (let i = 0; i < 2; i++) {
    for (const id of ids) {
      const s = media.ingest.lives.get(id)?.inputSpeed;
      if (s !== undefined) lowest.set(id, Math.min(lowest.get(id) ?? s, s));
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const speeds = [...lowest.values()];
  const ladders = ids.filter((id) => media.ingest.lives.get(id)?.transcoded).length;
  return {
    streams: ids.length,
    ladders,
    passthrough: ids.length - ladders,
    minSpeed: speeds.length === ids.length ? round(Math.min(...speeds)) : null,
    // A publish that failed would be an ffmpeg publisher gone.
    failedPublishes: publishers.filter((p) => p.child.exitCode !== null).length,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const dir = await mkdtemp(join(tmpdir(), 'livehouse-capacity-'));
const file = await patternFile(dir);
const result: Record<string, unknown> = {};
try {
  // 1. Ladders, one more at a time, until a step does not hold.
  {
    const media = await startMediaPlatform({
      transcodeSlots: maxLadders,
      thumbnailIntervalMs: 0,
      ladderFallback: { minSpeed: 0.95, windowSeconds: 5 },
    });
    const publishers: Publisher[] = [];
    const ids: string[] = [];
    const steps = [];
    let holds = 0;
    try {
      for (let n = 1; n <= maxLadders; n++) {
        await addStream(media, file, publishers, ids);
        const step = await measure(media, ids, publishers);
        steps.push(step);
        console.error(JSON.stringify({ ladders: step }));
        const ok = step.ladders === n && step.minSpeed !== null && step.minSpeed >= HOLDS;
        if (!ok) break;
        holds = n;
      }
    } finally {
      for (const p of publishers) p.stop();
      await media.close();
    }
    result.ladders = {
      holds,
      ladder: 'default: source copy + 480p + 360p, libx264 veryfast zerolatency, AAC, 1 s segments',
      steps,
      pastCapacity:
        'the fallback drops a ladder that falls below 0.95× of its input to passthrough (its slot freed); every publish stays up',
    };
  }
  // 2. Passthrough streams, a few more at a time.
  {
    // The window of the speed measure (no ladder to drop here).
    const media = await startMediaPlatform({
      transcodeSlots: 0,
      thumbnailIntervalMs: 0,
      ladderFallback: { minSpeed: 0.95, windowSeconds: 5 },
    });
    const publishers: Publisher[] = [];
    const ids: string[] = [];
    const steps = [];
    let holds = 0;
    try {
      for (let n = passStep; n <= passMax; n += passStep) {
        while (ids.length < n) await addStream(media, file, publishers, ids);
        const step = await measure(media, ids, publishers);
        steps.push(step);
        console.error(JSON.stringify({ passthrough: step }));
        if (step.minSpeed === null || step.minSpeed < HOLDS || step.failedPublishes > 0) break;
        holds = n;
      }
    } finally {
      for (const p of publishers) p.stop();
      await media.close();
    }
    result.passthrough = {
      holds,
      bound: passMax,
      note:
        holds === passMax ? `held at the largest step tried (${passMax}): the capacity is at least that` : undefined,
      steps,
    };
  }
  const out = {
    ...result,
    method:
      'streams added step by step on one ingest instance; each step runs ≥ 8 s, then every stream’s speed against its input (media seconds written per media second fed, over 5 s of input) is read twice, 1 s apart; a step holds when the lowest is ≥ 0.97 and no stream was dropped from its ladder',
    publisher: 'ffmpeg -re -stream_loop -1 -c copy of a 10 s 720p30 testsrc2 + sine file (2.5 Mbit/s, 1 s GOP)',
    cpus: cpus().length,
    at: new Date().toISOString(),
  };
  const results = join(import.meta.dirname, 'results');
  await mkdir(results, { recursive: true });
  await writeFile(join(results, 'capacity.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(JSON.stringify(out, null, 2));
} finally {
  await rm(dir, { recursive: true, force: true });
}
