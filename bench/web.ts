/**
 * `npm run bench:web`: the server-rendered stream page (web, /streams/:id) under autocannon beside the BFF view it
 * renders (/web/v1/streams/:id), in the same run and process: rounds alternate, the median of each is kept.
 * Requests go round robin over BENCH_STREAMS live streams, so that neither side is measured on the BFF's
 * coalescing of identical in-flight backend calls; `oneHotStream` is the same comparison on a single stream.
 * costRatio = viewRps / pageRps: how much more one page costs than the JSON view under it (target ≤ 1.5);
 * cpuCostRatio: the same from the process's CPU time per request. Also the gzipped JavaScript a browser loads for
 * the home and the stream page (entry + lazily loaded player), read from the real responses. Writes
 * bench/results/web.json. BENCH_SECONDS (8), BENCH_CONNECTIONS (10), BENCH_ROUNDS (3), BENCH_STREAMS (20),
 * BENCH_ONLY (below).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { generateDevSecrets, openBackend, startPlatform } from '@livehouse/kit';
import autocannon from 'autocannon';
import { services } from '../packages/cli/src/services.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const streamCount = Number(process.env.BENCH_STREAMS ?? 20);
const root = join(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** The BFF's calls to its backends so far (coalesced identical GETs count once). */
async function backendCalls() {
  const text = await (await fetch(`${platform.services.get('bff')?.adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('backend_calls_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

interface Run {
  rps: number;
  cpuUs: number;
  backendCalls: number;
}

/** Requests per second, and the process's CPU time per request (the load generator's share included, alike for both). */
async function rps(urls: string[]): Promise<Run> {
  let bad = 0;
  let next = 0;
  const first = new URL(urls[0] ?? '');
  const paths = urls.map((u) => new URL(u).pathname);
  const calls0 = await backendCalls();
  const cpu0 = process.cpuUsage();
  const r = await autocannon({
    url: first.origin,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        // Each request the next stream, round robin.
        setupRequest: (req) => ({ ...req, path: paths[next++ % paths.length] ?? '/' }),
        onResponse: (status) => void (status !== 200 && bad++),
      },
    ],
  });
  const cpu = process.cpuUsage(cpu0);
  if (bad + r.errors > r.requests.total / 100)
    throw new Error(`${urls[0]}…: ${bad} non-200 answers, ${r.errors} errors`);
  const n = Math.max(1, r.requests.total);
  return {
    rps: r.requests.average,
    cpuUs: Math.round((cpu.user + cpu.system) / n),
    backendCalls: Number((((await backendCalls()) - calls0) / n).toFixed(2)),
  };
}

/** Scripts the page names, plus (with `lazy`) the chunks its entry imports on demand (the player). */
async function jsGzipBytes(base: string, path: string, lazy: RegExp | null) {
  const html = await (await fetch(base + path)).text();
  const srcs = [
    ...html.matchAll(/<script[^>]+src="([^"]+)"/g),
    ...html.matchAll(/rel="modulepreload"[^>]+href="([^"]+)"/g),
  ].map((m) => m[1] ?? '');
  let total = 0;
  for (const src of new Set(srcs)) {
    const code = Buffer.from(await (await fetch(base + src)).arrayBuffer());
    total += gzipSync(code, { level: 9 }).length;
    if (!lazy) continue;
    for (const chunk of code.toString('utf8').matchAll(/["'`]\.?\/?((?:assets\/)?[\w.-]+\.js)["'`]/g)) {
      const name = chunk[1] ?? '';
      if (!lazy.test(name)) continue;
      const url = `${base}/assets/${name.replace(/^assets\//, '')}`;
      total += gzipSync(Buffer.from(await (await fetch(url)).arrayBuffer()), { level: 9 }).length;
    }
  }
  return total;
}

const backend = await openBackend('memory://');
const names = ['auth', 'user', 'contents', 'stamp', 'point', 'payment', 'timeline', 'chat', 'bff', 'web'];
const platform = await startPlatform(
  names.map((n) => services[n]?.definition).filter((d) => d !== undefined),
  {
    backend,
    env: generateDevSecrets(),
    config: (name) => ({
      log: { level: 'fatal' },
      // The section timeouts are stretched: on a shared 2-core box a 300 ms budget fails under any load, and the
      // comparison is of cost (req/s), not of timeouts.
      // The set-up signs up BENCH_STREAMS streamers from one address.
      ...(name === 'auth' && { auth: { signUpRateLimit: { perIp: { max: 10_000, windowMs: 60_000 } } } }),
      ...(name === 'bff' && {
        bff: { timeoutScale: 10, requestBudgetMs: 5000, rateLimit: { perIp: { max: 10_000_000, windowMs: 60_000 } } },
      }),
    }),
  },
);
try {
  const api = `${platform.url('bff')}/web/v1`;
  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(api + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { tokens: { accessToken: string; refreshToken: string }; id: string };
  };
  // One live stream per streamer (a channel has one live stream): BENCH_STREAMS of them.
  const streamIds: string[] = [];
  for (let i = 0; i < streamCount; i++) {
    const signup = await post('/auth/signup', {
      handle: `bench_streamer_${i}`,
      email: `b${i}@example.com`,
      password: 'bench-password',
    });
    await post('/me/channel', { title: `Bench channel ${i}` }, signup.tokens.accessToken);
    const refreshed = await post('/auth/refresh', { refreshToken: signup.tokens.refreshToken });
    streamIds.push((await post('/me/streams', { title: `Bench stream ${i}` }, refreshed.tokens.accessToken)).id);
  }
  const web = platform.url('web');
  const viewOf = (id: string) => `${api}/streams/${id}`;
  const pageOf = (id: string) => `${web}/streams/${id}`;

  /** Alternating rounds of views and pages (after a warm-up of each); medians. */
  async function compare(ids: string[], n: number) {
    const views: Run[] = [];
    const pages: Run[] = [];
    await rps(ids.map(viewOf));
    await rps(ids.map(pageOf));
    for (let i = 0; i < n; i++) {
      views.push(await rps(ids.map(viewOf)));
      pages.push(await rps(ids.map(pageOf)));
    }
    const m = (runs: Run[], k: keyof Run) => median(runs.map((x) => x[k]));
    return {
      pageRps: m(pages, 'rps'),
      viewRps: m(views, 'rps'),
      costRatio: Number((m(views, 'rps') / m(pages, 'rps')).toFixed(3)),
      // CPU time per request, page over view: the same comparison, less at the mercy of other load on the machine.
      cpuCostRatio: Number((m(pages, 'cpuUs') / m(views, 'cpuUs')).toFixed(3)),
      cpuUsPerRequest: { page: m(pages, 'cpuUs'), view: m(views, 'cpuUs') },
      backendCallsPerRequest: { page: m(pages, 'backendCalls'), view: m(views, 'backendCalls') },
      rounds: { views, pages },
    };
  }

  // BENCH_ONLY=page|view: one side alone, for a CPU profile (node --cpu-prof bench/web.ts); no results written.
  const only = process.env.BENCH_ONLY;
  if (only === 'page' || only === 'view') {
    const urls = streamIds.map(only === 'page' ? pageOf : viewOf);
    await rps(urls); // warm-up
    console.log(only, await rps(urls));
    await platform.close();
    await backend.close();
    process.exit(0);
  }
  const spread = await compare(streamIds, rounds);
  // Every request for one stream: the BFF coalesces identical in-flight backend GETs, and ten identical views in
  // flight share them almost perfectly, while pages reach the BFF staggered by their rendering (see
  // backendCallsPerRequest). Reported beside the figure, not as it.
  const { rounds: _, ...hot } = await compare(streamIds.slice(0, 1), 1);
  const result = {
    ...spread,
    streamPageJsGzipBytes: await jsGzipBytes(web, `/streams/${streamIds[0]}`, /hls/),
    homePageJsGzipBytes: await jsGzipBytes(web, '/', null),
    oneHotStream: hot,
    settings: {
      seconds,
      connections,
      rounds,
      streams: streamCount,
      process: 'one (embedded, PGlite)',
      anonymous: true,
    },
    machine: { cpus: cpus().length, loadavg: loadavg().map((x) => Number(x.toFixed(2))) },
  };
  await mkdir(join(root, 'bench/results'), { recursive: true });
  await writeFile(join(root, 'bench/results/web.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
  if (result.costRatio > 1.5) console.log(`bench:web: the page costs ${result.costRatio}× its view (target ≤ 1.5)`);
} finally {
  await platform.close();
  await backend.close();
}
