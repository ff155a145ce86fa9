/**
 * A worker thread of bench:edge's viewer generator: `viewers` LL-HLS players at the live edge of one
 * stream, each on its own keep-alive connection. A blocking reload for the next segment
 * (`_HLS_msn=N`), then that segment, again and again until `untilMs`. Off the platform's event loop,
 * so the platform's latencies are its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';

export interface ViewerJob {
  base: string;
  streamId: string;
  headers: Record<string, string>;
  viewers: number;
  firstSeq: number;
  untilMs: number;
}

export interface ViewerResult {
  /** One per answered blocking reload: which segment it asked for, when it was sent and answered. */
  reloads: { seq: number; sentAt: number; answeredAt: number }[];
  segmentMs: number[];
  requests: number;
  errors: number;
}

/** Segment numbers a media playlist lists. */
function listed(playlist: string) {
  const out: number[] = [];
  for (const line of playlist.split('\n')) {
    const m = /^(?:[a-z0-9_-]+\/)?(\d+)\.ts$/.exec(line.trim());
    if (m) out.push(Number(m[1]));
  }
  return out;
}

async function run(job: ViewerJob): Promise<ViewerResult> {
  const agent = new Agent({ connections: job.viewers + 10, pipelining: 1, keepAliveTimeout: 30_000 });
  const r: ViewerResult = { reloads: [], segmentMs: [], requests: 0, errors: 0 };
  const playlist = `${job.base}/streams/${job.streamId}/source/index.m3u8`;
  const viewer = async () => {
    let next = job.firstSeq;
    while (Date.now() < job.untilMs) {
      const sentAt = Date.now();
      const res = await request(`${playlist}?_HLS_msn=${next}`, { dispatcher: agent, headers: job.headers }).catch(
        () => undefined,
      );
      r.requests++;
      if (res?.statusCode !== 200) {
        r.errors++;
        await res?.body.dump();
        await new Promise((done) => setTimeout(done, 200));
        continue;
      }
      const seqs = listed(await res.body.text());
      r.reloads.push({ seq: next, sentAt, answeredAt: Date.now() });
      if (!seqs.includes(next)) {
        // Behind the live window, or the hold's bound reached: on to the newest.
        next = Math.max(next, ...seqs);
        continue;
      }
      const segStart = Date.now();
      const seg = await request(`${job.base}/streams/${job.streamId}/source/${String(next).padStart(6, '0')}.ts`, {
        dispatcher: agent,
        headers: job.headers,
      }).catch(() => undefined);
      r.requests++;
      if (seg?.statusCode !== 200) r.errors++;
      await seg?.body.dump();
      r.segmentMs.push(Date.now() - segStart);
      next++;
    }
  };
  await Promise.all(Array.from({ length: job.viewers }, viewer));
  await agent.close();
  return r;
}

if (parentPort) parentPort.postMessage(await run(workerData as ViewerJob));
