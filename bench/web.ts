/**
 * `npm run bench:web`: the server-rendered stream page (web, /streams/:id) under autocannon beside the BFF view it
 * renders (/web/v1/streams/:id), in the same run and process: rounds alternate, the median of each is kept.
 * costRatio = viewRps / pageRps: how much more one page costs than the JSON view under it (target ≤ 1.5).
 * Also the gzipped JavaScript a browser loads for the home and the stream page (entry + lazily loaded player),
 * read from the real responses. Writes bench/results/web.json. BENCH_SECONDS (8), BENCH_CONNECTIONS (10), BENCH_ROUNDS (3).
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
const root = join(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function rps(url: string) {
  let bad = 0;
  const r = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [{ method: 'GET', onResponse: (status) => void (status !== 200 && bad++) }],
  });
  if (bad + r.errors > r.requests.total / 100) throw new Error(`${url}: ${bad} non-200 answers, ${r.errors} errors`);
  return r.requests.average;
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
const only = ['auth', 'user', 'contents', 'stamp', 'point', 'timeline', 'chat', 'bff', 'web'];
const platform = await startPlatform(
  only.map((n) => services[n]?.definition).filter((d) => d !== undefined),
  {
    backend,
    env: generateDevSecrets(),
    config: (name) => ({
      log: { level: 'fatal' },
      // The section timeouts are stretched: on a shared 2-core box a 300 ms budget fails under any load, and the
      // comparison is of cost (req/s), not of timeouts.
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
  const signup = await post('/auth/signup', {
    handle: 'bench_streamer',
    email: 'b@example.com',
    password: 'bench-password',
  });
  const tokens = signup.tokens;
  await post('/me/channel', { title: 'Bench channel' }, tokens.accessToken);
  const refreshed = (await post('/auth/refresh', { refreshToken: tokens.refreshToken })).tokens as {
    accessToken: string;
  };
  const stream = await post('/me/streams', { title: 'Bench stream' }, refreshed.accessToken);
  const viewUrl = `${api}/streams/${stream.id}`;
  const pageUrl = `${platform.url('web')}/streams/${stream.id}`;

  await rps(viewUrl);
  await rps(pageUrl); // warm-up of both
  const views: number[] = [];
  const pages: number[] = [];
  for (let i = 0; i < rounds; i++) {
    views.push(await rps(viewUrl));
    pages.push(await rps(pageUrl));
  }
  const viewRps = median(views);
  const pageRps = median(pages);
  const web = platform.url('web');
  const result = {
    pageRps,
    viewRps,
    costRatio: Number((viewRps / pageRps).toFixed(3)),
    streamPageJsGzipBytes: await jsGzipBytes(web, `/streams/${stream.id}`, /hls/),
    homePageJsGzipBytes: await jsGzipBytes(web, '/', null),
    rounds: { views, pages },
    settings: { seconds, connections, rounds, process: 'one (embedded, PGlite)', anonymous: true },
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
