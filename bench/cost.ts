/**
 * `npm run bench:cost`: CPU time per request of a service process (utime + stime from /proc, what
 * process.cpuUsage() reports inside it: not wall time, so much less sensitive to the machine's load),
 * each beside a bare reference in the same run, as ratios:
 *   spend    — point's POST /spends vs the same three statements by hand with pg behind a bare Fastify route (bench/lib/raw-pg.ts);
 *   batchGet — user's GET /users?ids=(20 ids) vs the same select with pg behind a bare Fastify route;
 *   bffHome  — the BFF's app home view with its cache and GET coalescing off (bench/lib/bff-plain.ts) vs
 *              the plain Promise.all aggregator making the same backend calls (bench/lib/baseline.ts);
 *   embedded — the embedded platform's CPU per public request of the load-test mix at BENCH_USERS (100) users.
 * Targets: spend ≤ 1.5, batchGet ≤ 1.5, bffHome ≤ 1.2, embedded ≤ 3 ms per request. Services and
 * references run as their own processes on the real PostgreSQL; the load comes from this process
 * at a fixed concurrency, in interleaved rounds (median ratio). Writes bench/results/cost.json.
 * BENCH_SECONDS (per measured round, 4), BENCH_ROUNDS (3), BENCH_WARMUP_SECONDS (3), BENCH_CONCURRENCY (8), BENCH_USERS (100),
 * BENCH_EMBEDDED_DURATION (30s, or 0 to leave it out), BENCH_ONLY (e.g. spend,batchGet: the others are
 * left out), LIVEHOUSE_BENCH_POSTGRES_URL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { bffService } from '@livehouse/bff';
import { generateDevSecrets, InternalAuth } from '@livehouse/kit';
import pg from 'pg';
import { Pool } from 'undici';
import { freePort, node, root, startFleet, waitReady } from './lib/fleet.ts';
import { processCpuUs } from './lib/proc.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const warmup = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const users = Number(process.env.BENCH_USERS ?? 100);
const embeddedDuration = process.env.BENCH_EMBEDDED_DURATION ?? '30s';
const postgresUrl = process.env.LIVEHOUSE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const VIEWERS = 200;
const STREAMERS = 20;
const only = process.env.BENCH_ONLY?.split(',');
const runs = (name: string) => !only || only.includes(name);
const uptime = () => loadavg().map((l) => Number(l.toFixed(2)));

type Request = () => Promise<{ method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string }>;

/** `concurrency` loops for `durationS` against one server; the CPU the server process used per answered request. */
async function measure(url: string, pid: number, next: Request, durationS: number, expect: number) {
  const http = new Pool(url, { connections: concurrency, pipelining: 1 });
  let ok = 0;
  let failed = 0;
  const end = performance.now() + durationS * 1000;
  const before = processCpuUs(pid);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const res = await http.request(await next());
        const text = await res.body.text();
        if (res.statusCode === expect) ok++;
        else if (++failed <= 3) console.error(`  ${url} answered ${res.statusCode}: ${text.slice(0, 200)}`);
      }
    }),
  );
  const used = processCpuUs(pid) - before;
  await http.close();
  return { us: ok > 0 ? Math.round(used / ok) : Number.NaN, requests: ok, failed };
}

interface Pair {
  us: number;
  referenceUs: number;
  ratio: number;
  rounds: { us: number; referenceUs: number; requests: number; referenceRequests: number }[];
  uptime: number[];
}

/** Interleaved rounds of subject and reference, so that a burst of other work hits both; the median round's ratio. */
async function pair(
  label: string,
  subject: { url: string; pid: number; next: Request; expect: number },
  reference: { url: string; pid: number; next: Request; expect: number },
): Promise<Pair> {
  // Warm-up: JIT, pools, caches (the first rounds on a loaded machine were still the dearest with 1 s).
  await measure(subject.url, subject.pid, subject.next, warmup, subject.expect);
  await measure(reference.url, reference.pid, reference.next, warmup, reference.expect);
  const done: Pair['rounds'] = [];
  for (let i = 0; i < rounds; i++) {
    const s = await measure(subject.url, subject.pid, subject.next, seconds, subject.expect);
    const r = await measure(reference.url, reference.pid, reference.next, seconds, reference.expect);
    done.push({ us: s.us, referenceUs: r.us, requests: s.requests, referenceRequests: r.requests });
    console.log(`  ${label} #${i + 1}: ${s.us} µs (${s.requests} requests) vs ${r.us} µs (${r.requests})`);
  }
  const median = [...done].sort((a, b) => a.us / a.referenceUs - b.us / b.referenceUs)[Math.floor(done.length / 2)]!;
  const ratio = Number((median.us / median.referenceUs).toFixed(2));
  console.log(`  ${label}: ${median.us} µs vs ${median.referenceUs} µs per request, ratio ${ratio} (load ${uptime()})`);
  return { us: median.us, referenceUs: median.referenceUs, ratio, rounds: done, uptime: uptime() };
}

function spawnScript(script: string, env: Record<string, string>): ChildProcess {
  return spawn(node, [join(root, script)], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...env },
  });
}

/** Funds the viewers (through point's payment-only purchase route) and seeds profiles, channels and live streams. */
async function seed(fleet: Awaited<ReturnType<typeof startFleet>>, auth: InternalAuth, pointUrl: string) {
  const viewers = Array.from({ length: VIEWERS }, () => randomUUID());
  const streamers = Array.from({ length: STREAMERS }, () => randomUUID());
  const payment = await auth.sign({ service: 'payment' });
  const http = new Pool(pointUrl, { connections: 8 });
  const queue = [...viewers];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let v = queue.pop(); v; v = queue.pop()) {
        const res = await http.request({
          method: 'POST',
          path: '/purchases',
          headers: {
            authorization: `Bearer ${payment}`,
            'content-type': 'application/json',
            'idempotency-key': randomUUID(),
          },
          body: JSON.stringify({ userId: v, paymentId: randomUUID(), amount: 100_000_000 }),
        });
        const text = await res.body.text();
        if (res.statusCode !== 201) throw new Error(`purchase: ${res.statusCode} ${text}`);
      }
    }),
  );
  await http.close();
  // Profiles and live channels straight in their services' tables: what the BFF's home view and the batch lookup read.
  const db = new pg.Client({ connectionString: postgresUrl });
  await db.connect();
  try {
    const u = `"${fleet.schemaPrefix}user"`;
    const c = `"${fleet.schemaPrefix}contents"`;
    for (const [i, id] of streamers.entries()) {
      await db.query(`insert into ${u}.profiles (id, handle, display_name) values ($1, $2, $3)`, [
        id,
        `streamer${i}`,
        `Streamer ${i}`,
      ]);
      const channel = await db.query<{ id: string }>(
        `insert into ${c}.channels (owner_id, title, featured, stream_key_hash, image_url) values ($1, $2, $3, $4, $5) returning id`,
        [id, `Channel ${i}`, i % 4 === 0, randomUUID(), `https://img.example/${i}.jpg`],
      );
      await db.query(
        `insert into ${c}.streams (channel_id, title, state, started_at, viewer_count, peak_viewer_count) values ($1, $2, 'live', now(), $3, $3)`,
        [channel.rows[0]!.id, `Stream ${i}`, 10 * i],
      );
    }
  } finally {
    await db.end();
  }
  return { viewers, streamers };
}

/** The load test's mix against the embedded platform (its own child process); its platform CPU per public request. */
async function embedded() {
  const out = mkdtempSync(join(tmpdir(), 'livehouse-cost-loadtest-'));
  try {
    const child = spawn(
      node,
      [join(root, 'loadtest/main.ts'), '--users', String(users), '--duration', embeddedDuration, '--out', out],
      { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    await new Promise((ok) => child.once('exit', ok));
    const result = JSON.parse(readFileSync(join(out, 'loadtest-result.json'), 'utf8')) as {
      totals: { requests: number; platformCpuMsPerRequest?: number; holdRate: number };
      verdict?: { pass?: boolean };
    };
    const ms = result.totals.platformCpuMsPerRequest;
    console.log(
      `  embedded, ${users} users for ${embeddedDuration}: ${ms?.toFixed(2)} ms of platform CPU per public request (${result.totals.requests} requests, load ${uptime()})`,
    );
    return { ms: ms === undefined ? null : Number(ms.toFixed(2)), requests: result.totals.requests, uptime: uptime() };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function main() {
  const started = Date.now();
  const loadAtStart = uptime();
  console.log(
    `bench:cost — ${cpus().length} CPUs, load ${loadAtStart}; ${concurrency} in flight, ${rounds}×${seconds} s rounds`,
  );
  // Payment runs as in a pod (provider stripe): stand-in secrets, since no home view or spend calls it.
  const secrets = {
    ...generateDevSecrets(),
    LIVEHOUSE_STRIPE_API_KEY: 'sk_test_bench',
    LIVEHOUSE_STRIPE_WEBHOOK_SECRET: 'whsec_bench',
    // BENCH_CPU_PROF=dir: every service process writes a V8 CPU profile there when it stops.
    ...(process.env.BENCH_CPU_PROF && { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_CPU_PROF}` }),
  };
  const auth = new InternalAuth((secrets as Record<string, string>).LIVEHOUSE_INTERNAL_KEY as string);
  const fleet = await startFleet({
    names: [...bffService.dependsOn],
    secrets,
    databaseUrl: postgresUrl,
    poolSize: 8,
    config: (name) =>
      name === 'auth'
        ? { auth: { passwordHashing: { memoryCostKiB: 4096, timeCost: 1 } } }
        : name === 'point'
          ? { point: { platformFeeBps: 1000, receivingShards: 8, systemShards: 8 } }
          : {},
  });
  const children: ChildProcess[] = [];
  let closed = false;
  const closeFleet = async () => {
    if (!closed) await fleet.close();
    closed = true;
  };
  try {
    const direct = fleet.direct();
    const point = fleet.backends.get('point')!.process;
    const user = fleet.backends.get('user')!.process;
    const { viewers, streamers } = await seed(fleet, auth, point.url);

    const rawPort = await freePort();
    const raw = spawnScript('bench/lib/raw-pg.ts', {
      RAW_PORT: String(rawPort),
      RAW_DATABASE_URL: postgresUrl,
      RAW_POINT_SCHEMA: `${fleet.schemaPrefix}point`,
      RAW_USER_SCHEMA: `${fleet.schemaPrefix}user`,
    });
    children.push(raw);
    const rawUrl = `http://127.0.0.1:${rawPort}`;
    await waitReady(`${rawUrl}/healthz`, 30_000);

    const bffConfig = {
      services: direct,
      bff: { rateLimit: { perIp: { max: 1_000_000_000 }, perUser: { max: 1_000_000_000 } }, docs: false },
    };
    const bffPlain = await fleet.spawn('bff', bffConfig, join(root, 'bench/lib/bff-plain.ts'));
    const baselinePort = await freePort();
    const baseline = spawnScript('bench/lib/baseline.ts', {
      BASELINE_PORT: String(baselinePort),
      BASELINE_SERVICES: JSON.stringify(direct),
      LIVEHOUSE_INTERNAL_KEY: (secrets as Record<string, string>).LIVEHOUSE_INTERNAL_KEY as string,
    });
    children.push(baseline);
    const baselineUrl = `http://127.0.0.1:${baselinePort}`;
    await waitReady(`${baselineUrl}/healthz`, 30_000);
    console.log(`ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    // Tokens are signed as they are needed (`sign` reuses one until half its 60-s life is gone): tokens signed
    // once before the run expired during longer runs (BENCH_ROUNDS=5), and every later request answered 401.
    const any = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)] as T;
    const spendRequest = (withToken: boolean) => async () => {
      const from = any(viewers);
      const token = withToken && (await auth.sign({ service: 'bff', user: { id: from, roles: ['viewer'] } }));
      return {
        method: 'POST' as const,
        path: '/spends',
        headers: {
          ...(token && { authorization: `Bearer ${token}` }),
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify({
          fromUserId: from,
          toUserId: any(streamers),
          // ≥ 10: every spend pays a fee, so both sides write the same three postings.
          amount: 10 + Math.floor(Math.random() * 10),
          reason: 'bench',
        }),
      };
    };
    const batchPath = `/users?ids=${streamers.join(',')}`;
    const batch = (withToken: boolean) => async () => ({
      method: 'GET' as const,
      path: batchPath,
      ...(withToken && { headers: { authorization: `Bearer ${await auth.sign({ service: 'bff' })}` } }),
    });
    const home = async () => ({ method: 'GET' as const, path: '/app/v1/home' });

    console.log('spend:');
    const spend = !runs('spend')
      ? null
      : await pair(
          'spend',
          { url: point.url, pid: point.pid!, next: spendRequest(true), expect: 201 },
          { url: rawUrl, pid: raw.pid!, next: spendRequest(false), expect: 201 },
        );
    console.log('batch GET:');
    const batchGet = !runs('batchGet')
      ? null
      : await pair(
          'batchGet',
          { url: user.url, pid: user.pid!, next: batch(true), expect: 200 },
          { url: rawUrl, pid: raw.pid!, next: batch(false), expect: 200 },
        );
    console.log('BFF home (cache and coalescing off):');
    const bffHome = !runs('bffHome')
      ? null
      : await pair(
          'bffHome',
          { url: bffPlain.url, pid: bffPlain.pid!, next: home, expect: 200 },
          { url: baselineUrl, pid: baseline.pid!, next: home, expect: 200 },
        );
    for (const c of children) c.kill('SIGKILL');
    children.length = 0;
    // The embedded platform runs alone.
    await closeFleet();

    let embeddedResult: Awaited<ReturnType<typeof embedded>> | null = null;
    if (embeddedDuration !== '0' && runs('embedded')) {
      console.log('embedded platform (the load-test mix):');
      embeddedResult = await embedded();
    }

    const result = {
      spend,
      batchGet,
      bffHome,
      embeddedMsPerRequest: embeddedResult?.ms ?? null,
      embedded: embeddedResult && { users, duration: embeddedDuration, ...embeddedResult },
      targets: { spend: 1.5, batchGet: 1.5, bffHome: 1.2, embeddedMsPerRequest: 3 },
      setup: {
        command: 'npm run bench:cost',
        cpus: cpus().length,
        concurrency,
        rounds,
        secondsPerRound: seconds,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: uptime(),
        database: 'postgresql',
        at: new Date().toISOString(),
      },
    };
    const dir = join(import.meta.dirname, 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cost.json'), `${JSON.stringify(result, null, 2)}\n`);
    const verdict = (name: string, value: number | null | undefined, target: number) =>
      `${name} ${value ?? '—'} (target ≤ ${target}${value != null && value <= target ? ', met' : ''})`;
    console.log(
      [
        verdict('spend', spend?.ratio, 1.5),
        verdict('batchGet', batchGet?.ratio, 1.5),
        verdict('bffHome', bffHome?.ratio, 1.2),
        verdict('embedded ms/request', result.embeddedMsPerRequest, 3),
      ].join('; '),
    );
    console.log(`wrote bench/results/cost.json in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await closeFleet();
  }
}

await main();
