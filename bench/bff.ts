/**
 * `npm run bench:bff`: the BFF's anonymous app home view (/app/v1/home) under autocannon, beside a
 * minimal baseline aggregator making the same backend calls with plain Promise.all over undici
 * (bench/lib/baseline.ts). The backends, the BFF and the baseline each run as their own process;
 * the BFF and the baseline reach the backends through the same fault proxies. Runs:
 *   healthy     — BFF, baseline, the BFF with its public-section cache off (bench/lib/bff-nocache.ts) and
 *                 with cache and GET coalescing off (bench/lib/bff-plain.ts: the BFF's own cost);
 *   blackholed  — one backend (BENCH_BLACKHOLE, default contents) accepts connections and never answers.
 * Writes bench/results/bff.json. BENCH_SECONDS (10), BENCH_CONNECTIONS (50), LIVEHOUSE_BENCH_POSTGRES_URL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { bffService } from '@livehouse/bff';
import { generateDevSecrets } from '@livehouse/kit';
import autocannon from 'autocannon';
// Deep on purpose: the black-holed section's timeout is read from the view's own declaration.
import { views } from '../services/bff/src/views/views.ts';
import { freePort, node, root, startFleet, waitReady } from './lib/fleet.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** The BFF's own cost is compared below the backends' saturation, where nothing times out. */
const plainConnections = Number(process.env.BENCH_PLAIN_CONNECTIONS ?? 8);
const blackholed = process.env.BENCH_BLACKHOLE ?? 'contents';
const postgresUrl = process.env.LIVEHOUSE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const STREAMERS = 20;
const PATH = '/app/v1/home';

interface Run {
  rps: number;
  p50Ms: number | null;
  p99Ms: number | null;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** 200s with sections from a last known value or a default (`livehouse-degraded`); the baseline has none. */
  degraded: number;
  /** Complete answers (200, nothing degraded) per second. */
  fullRps: number;
}

async function load(url: string, durationSeconds = seconds, clients = connections): Promise<Run> {
  let degraded = 0;
  const r = await autocannon({
    url,
    connections: clients,
    duration: durationSeconds,
    timeout: durationSeconds,
    requests: [
      {
        method: 'GET',
        path: PATH,
        onResponse: (status, _body, _context, headers) => {
          if (status === 200 && headers?.['livehouse-degraded']) degraded++;
        },
      },
    ],
  });
  const answered = r['2xx'] + r.non2xx > 0;
  return {
    degraded,
    fullRps: Math.round((r['2xx'] - degraded) / durationSeconds),
    rps: Math.round(r.requests.average),
    p50Ms: answered ? r.latency.p50 : null,
    p99Ms: answered ? r.latency.p99 : null,
    requests: r.requests.total,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

const show = (label: string, r: Run) =>
  console.log(
    `  ${label.padEnd(12)} ${String(r.rps).padStart(6)} req/s   p50 ${String(r.p50Ms ?? '—').padStart(4)} ms   p99 ${String(r.p99Ms ?? '—').padStart(5)} ms   (${r.ok} ok of which ${r.degraded} degraded, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts)`,
  );

/** The slowest timeout among the anonymous home's sections on a backend (logged-in-only sections do not run). */
function sectionTimeout(backend: string) {
  const anonymous = Object.values(views.home).filter(
    (s) => s.backend === backend && !('when' in s && s.when !== undefined),
  );
  if (anonymous.length === 0) throw new Error(`the anonymous home view calls nothing on ${backend}`);
  return Math.max(...anonymous.map((s) => s.timeoutMs));
}

async function seed(bff: string) {
  const post = async (path: string, body: unknown, token?: string) => {
    const res = await fetch(`${bff}/web/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, never>;
    if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json as Record<string, Record<string, string>>;
  };
  const streamer = async (i: number) => {
    const handle = `streamer${i}`;
    const session = await post('/auth/signup', {
      handle,
      email: `${handle}@example.com`,
      password: 'long-enough-secret',
    });
    await post('/me/channel', { title: `Channel ${i}` }, session.tokens?.accessToken);
    const refreshed = await post('/auth/refresh', { refreshToken: session.tokens?.refreshToken });
    await post('/me/streams', { title: `Stream ${i}` }, refreshed.tokens?.accessToken);
  };
  for (let i = 0; i < STREAMERS; i += 5) await Promise.all([0, 1, 2, 3, 4].map((j) => streamer(i + j)));
}

async function main() {
  const timeoutMs = sectionTimeout(blackholed);
  // payment runs as a pod does (Stripe, never the embedded provider); the home view never calls it.
  const secrets: Record<string, string> = { ...generateDevSecrets(), LIVEHOUSE_STRIPE_API_KEY: 'sk_test_bench_unused' };
  const started = Date.now();
  const loadBefore = loadavg()[0];
  console.log(
    `bench:bff — ${cpus().length} CPUs, load ${loadBefore?.toFixed(1)}; ${connections} connections, ${seconds} s per run`,
  );
  const fleet = await startFleet({
    names: [...bffService.dependsOn],
    secrets,
    databaseUrl: postgresUrl,
    poolSize: 8,
    // Seeding signs up every streamer from one address: lift auth's per-address sign-up limit (10 an hour).
    config: (name) =>
      name === 'auth'
        ? {
            auth: {
              passwordHashing: { memoryCostKiB: 4096, timeCost: 1 },
              signUpRateLimit: { perIp: { max: 1_000_000 } },
            },
          }
        : {},
  });
  let baseline: ChildProcess | undefined;
  try {
    const bffConfig = {
      services: fleet.proxied(),
      bff: { rateLimit: { perIp: { max: 1_000_000_000 }, perUser: { max: 1_000_000_000 } }, docs: false },
    };
    const bff = await fleet.spawn('bff', bffConfig);
    const bffNoCache = await fleet.spawn('bff', bffConfig, join(root, 'bench/lib/bff-nocache.ts'));
    const bffPlain = await fleet.spawn('bff', bffConfig, join(root, 'bench/lib/bff-plain.ts'));
    const port = await freePort();
    baseline = spawn(node, [join(root, 'bench/lib/baseline.ts')], {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        BASELINE_PORT: String(port),
        BASELINE_SERVICES: JSON.stringify(fleet.proxied()),
        LIVEHOUSE_INTERNAL_KEY: secrets.LIVEHOUSE_INTERNAL_KEY,
      },
    });
    const baselineUrl = `http://127.0.0.1:${port}`;
    await waitReady(`${baselineUrl}/healthz`, 30_000);
    await seed(bff.url);
    console.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${STREAMERS} live streamers`);

    const targets = { bff: bff.url, baseline: baselineUrl, bffNoCache: bffNoCache.url, bffPlain: bffPlain.url };
    for (const url of Object.values(targets)) await load(url, 1); // warm-up: JIT, pools, caches

    console.log('healthy:');
    const healthy: Record<string, Run> = {};
    for (const [name, url] of Object.entries(targets)) {
      healthy[name] = await load(url);
      show(name, healthy[name]);
    }
    const ratio = Number((healthy.bff!.rps / healthy.baseline!.rps).toFixed(2));
    const ratioOf = (name: string) => Number((healthy[name]!.fullRps / healthy.baseline!.fullRps).toFixed(2));
    const ratioNoCache = ratioOf('bffNoCache');
    const ratioPlain = ratioOf('bffPlain');
    console.log(
      `  ratio bff/baseline ${ratio} (target ≥ 0.85); complete answers/s: cache off ${ratioNoCache}, cache and coalescing off ${ratioPlain}`,
    );

    console.log(`cost of the BFF itself, ${plainConnections} connections (below the backends' saturation):`);
    // Interleaved short pairs, so that a burst of other work on the machine hits both sides.
    const pairs: { baseline: Run; bffPlain: Run; ratio: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const baselineRun = await load(baselineUrl, Math.ceil(seconds / 3), plainConnections);
      const plainRun = await load(bffPlain.url, Math.ceil(seconds / 3), plainConnections);
      show(`baseline #${i + 1}`, baselineRun);
      show(`bffPlain #${i + 1}`, plainRun);
      pairs.push({ baseline: baselineRun, bffPlain: plainRun, ratio: plainRun.fullRps / baselineRun.fullRps });
    }
    const light = [...pairs].sort((a, b) => a.ratio - b.ratio)[1]!;
    const ratioPlainLight = Number(light.ratio.toFixed(2));
    console.log(
      `  ratio of complete answers/s, median of 3 pairs: ${ratioPlainLight} (${pairs.map((p) => p.ratio.toFixed(2)).join(', ')})`,
    );

    console.log(`${blackholed} black-holed (its home sections time out at ${timeoutMs} ms):`);
    await fleet.backends.get(blackholed)!.proxy.set('blackhole');
    const degradedSample = async (url: string) =>
      (await fetch(url + PATH, { signal: AbortSignal.timeout(2000) })).headers.get('livehouse-degraded');
    const hole: Record<string, Run> = {};
    hole.bff = await load(bff.url);
    show('bff', hole.bff);
    const degraded = await degradedSample(bff.url);
    hole.baseline = await load(baselineUrl);
    show('baseline', hole.baseline);
    const p99Ok = hole.bff.p99Ms !== null && hole.bff.p99Ms <= timeoutMs + 25;
    console.log(
      `  bff p99 ${hole.bff.p99Ms} ms vs ${timeoutMs} + 25 ms: ${p99Ok ? 'within' : 'OVER'}; degraded: ${degraded}`,
    );

    const result = {
      healthy: {
        bff: healthy.bff,
        baseline: healthy.baseline,
        ratio,
        bffNoCache: healthy.bffNoCache,
        ratioNoCache,
        bffPlain: healthy.bffPlain,
        ratioPlain,
        atPlainConnections: {
          connections: plainConnections,
          medianPair: { baseline: light.baseline, bffPlain: light.bffPlain },
          ratio: ratioPlainLight,
          ratios: pairs.map((p) => Number(p.ratio.toFixed(2))),
        },
      },
      blackholed: { backend: blackholed, bff: hole.bff, baseline: hole.baseline, timeoutMs, degraded },
      setup: {
        path: PATH,
        connections,
        seconds,
        cpus: cpus().length,
        loadAverageAtStart: loadBefore,
        loadAverageAtEnd: loadavg()[0],
        database: 'postgresql',
        streamers: STREAMERS,
        at: new Date().toISOString(),
      },
    };
    const dir = join(import.meta.dirname, 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'bff.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote bench/results/bff.json in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    baseline?.kill('SIGKILL');
    await fleet.close();
  }
}

await main();
