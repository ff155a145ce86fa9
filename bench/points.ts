/**
 * `npm run bench:points`: concurrent spends against the point service on the real PostgreSQL, in
 * process, on a fresh schema. Two shapes for BENCH_SECONDS each (default 10):
 *   uniform — many viewers to many streamers;
 *   raid    — many viewers to one streamer (the hot-account case the receiving shards are for);
 * plus the raid again with one shard per account, to show what sharding buys; beside pgbench's
 * built-in simple-update script (-N) on the same server; then the ledger is reconciled.
 * Writes bench/results/points.json.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { generateDevSecrets, InternalAuth, openBackend, startPlatform } from '@livehouse/kit';
import { pointService } from '@livehouse/point';
import pg from 'pg';
import { Pool } from 'undici';
import { processCpuUs } from './lib/proc.ts';

const run = promisify(execFile);
const any = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)] as T;
const url = process.env.LIVEHOUSE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const VIEWERS = 2000;
const STREAMERS = 200;

interface Shape {
  tps: number;
  p50Ms: number;
  p99Ms: number;
  spends: number;
  errors: number;
  serviceThreadBusy?: number;
  /** CPU time of the service's thread per spend (the busy share above also counts time spent waiting for a core). */
  serviceCpuUsPerSpend?: number;
  /** CPU time of the PostgreSQL backends serving the service per spend (null when PostgreSQL is not on this machine). */
  postgresCpuUsPerSpend?: number | null;
}

/** The summed CPU time of these processes, or null if one of them cannot be read (not on this machine). */
function totalCpuUs(pids: readonly number[]): number | null {
  let total = 0;
  for (const pid of pids) {
    try {
      total += processCpuUs(pid);
    } catch {
      return null;
    }
  }
  return pids.length > 0 ? total : null;
}

/** PostgreSQL backends serving this process's connections: their clients' ports are this process's sockets (Linux). */
async function ourBackends(): Promise<number[]> {
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
        if (inode) inodes.add(inode);
      } catch {
        // closed meanwhile
      }
    }
    const ports: number[] = [];
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
        const c = line.trim().split(/\s+/);
        if (c.length > 9 && inodes.has(c[9] as string)) ports.push(Number.parseInt(c[1]?.split(':')[1] ?? '', 16));
      }
    }
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const { rows } = await db.query<{ pid: number }>(
        'select pid from pg_stat_activity where client_port = any($1) and pid <> pg_backend_pid()',
        [ports],
      );
      return rows.map((r) => r.pid);
    } finally {
      await db.end();
    }
  } catch {
    return [];
  }
}

async function startPoint(shards: number, systemShards: number) {
  const secrets = generateDevSecrets();
  const backend = await openBackend(url, { poolSize: 20 });
  const schemaPrefix = `bench_${randomBytes(3).toString('hex')}_`;
  const platform = await startPlatform([pointService], {
    backend,
    env: secrets,
    schemaPrefix,
    config: () => ({ log: { level: 'warn' }, point: { platformFeeBps: 1000, receivingShards: shards, systemShards } }),
  });
  const auth = new InternalAuth(secrets.LIVEHOUSE_INTERNAL_KEY as string);
  const http = new Pool(platform.url('point'), { connections: concurrency + 4, pipelining: 1 });
  return { platform, backend, schemaPrefix, auth, http, key: secrets.LIVEHOUSE_INTERNAL_KEY as string, stopped: false };
}
type Point = Awaited<ReturnType<typeof startPoint>>;

async function post(http: Pool, path: string, body: unknown, token: string) {
  const res = await http.request({
    method: 'POST',
    path,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

/**
 * Many parallel loops for `durationMs`; every spend has its own key and is timed. Runs in a worker thread.
 * Tokens are signed as they are needed (`sign` reuses one until half its 60-s life is gone): tokens minted
 * once before the run outlived their TTL on a loaded machine, and the raid phase failed with
 * `internal_token_expired`.
 */
async function load(http: Pool, auth: InternalAuth, pick: () => [string, string], durationMs: number): Promise<Shape> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      const [from, to] = pick();
      const started = performance.now();
      const res = await post(
        http,
        '/spends',
        { fromUserId: from, toUserId: to, amount: 1 + Math.floor(Math.random() * 10), reason: 'bench' },
        await auth.sign({ service: 'bff', user: { id: from, roles: ['viewer'] } }),
      );
      if (res.status === 201) latencies.push(performance.now() - started);
      else if (++errors <= 3) console.error(`  spend answered ${res.status}: ${res.text}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) * 100) / 100;
  return {
    tps: Math.round(latencies.length / elapsed),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    spends: latencies.length,
    errors,
  };
}

interface LoadJob {
  url: string;
  /** The internal key, to sign the viewers' tokens with. */
  key: string;
  viewers: string[];
  streamers: string[];
  durationMs: number;
}

/**
 * The load generator gets its own thread (and so its own core when there is one): on a small machine
 * a client sharing the service's event loop would measure mostly itself.
 */
async function loadInWorker(job: LoadJob): Promise<Shape> {
  const backends = await ourBackends();
  const postgresBefore = totalCpuUs(backends);
  const cpuBefore = process.threadCpuUsage();
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  const before = performance.eventLoopUtilization();
  const shape = await new Promise<Shape>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  // How busy the service's own thread was: near 1 means the service, not the database, is the limit.
  const busy = performance.eventLoopUtilization(before).utilization;
  // Busy is wall time: on a machine with more runnable threads than cores it includes waiting for one. CPU time does not.
  const cpu = process.threadCpuUsage(cpuBefore);
  const postgresAfter = totalCpuUs(backends);
  const perSpend = (us: number) => Math.round(us / Math.max(1, shape.spends));
  return {
    ...shape,
    serviceThreadBusy: Math.round(busy * 100) / 100,
    serviceCpuUsPerSpend: perSpend(cpu.user + cpu.system),
    postgresCpuUsPerSpend:
      postgresBefore === null || postgresAfter === null ? null : perSpend(postgresAfter - postgresBefore),
  };
}

if (!isMainThread) {
  const job = workerData as LoadJob;
  const http = new Pool(job.url, { connections: concurrency + 4, pipelining: 1 });
  const auth = new InternalAuth(job.key);
  const shape = await load(http, auth, () => [any(job.viewers), any(job.streamers)], job.durationMs);
  await http.close();
  parentPort?.postMessage(shape);
}

const describe = (s: Shape) =>
  `${s.tps} spends/s, p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms, ${s.errors} errors, service thread ${Math.round((s.serviceThreadBusy ?? 0) * 100)} % busy, CPU per spend: service thread ${s.serviceCpuUsPerSpend} µs, PostgreSQL ${s.postgresCpuUsPerSpend ?? 'n/a'} µs`;

async function setUp(p: Point) {
  const viewers = Array.from({ length: VIEWERS }, () => randomUUID());
  const streamers = Array.from({ length: STREAMERS }, () => randomUUID());
  const queue = [...viewers];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let v = queue.pop(); v; v = queue.pop()) {
        const res = await post(
          p.http,
          '/purchases',
          { userId: v, paymentId: randomUUID(), amount: 10_000_000 },
          // Only the payment service may credit points.
          await p.auth.sign({ service: 'payment' }),
        );
        if (res.status !== 201) throw new Error(`purchase failed: ${res.status} ${res.text}`);
      }
    }),
  );
  return { viewers, streamers };
}

async function reconcile(p: Point) {
  const token = await p.auth.sign({ service: 'bench' });
  const res = await p.http.request({
    method: 'GET',
    path: '/admin/reconciliation',
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await res.body.json()) as { ok: boolean; violations: { invariant: string; detail: string }[] };
  for (const v of body.violations) console.error(`  violation ${v.invariant}: ${v.detail}`);
  return body.violations.length;
}

async function stop(p: Point) {
  if (p.stopped) return;
  p.stopped = true;
  await p.http.close();
  await p.platform.close();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const { rows } = await db.query<{ nspname: string }>('select nspname from pg_namespace where nspname like $1', [
    `${p.schemaPrefix}%`,
  ]);
  for (const { nspname } of rows) await db.query(`drop schema "${nspname}" cascade`);
  await db.end();
  await p.backend.close();
}

/** pgbench's simple-update tps, and the CPU time its PostgreSQL backends used per transaction (sampled inside the run). */
async function pgbench(): Promise<{ tps: number | null; postgresCpuUsPerTx: number | null }> {
  const candidates = ['pgbench', ...['17', '16', '15', '14'].map((v) => `/usr/lib/postgresql/${v}/bin/pgbench`)];
  const u = new URL(url);
  const scratch = `livehouse_pgbench_${randomBytes(3).toString('hex')}`;
  const conn = ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres')];
  const env = { ...process.env, ...(u.password && { PGPASSWORD: decodeURIComponent(u.password) }) };
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    for (const bin of candidates) {
      try {
        await run(bin, ['--version']);
      } catch {
        continue;
      }
      await admin.query(`create database ${scratch}`);
      try {
        await run(bin, ['-i', '-q', ...conn, scratch], { env });
        const running = run(bin, ['-N', '-T', String(seconds), '-c', '8', '-j', '2', ...conn, scratch], { env });
        const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
        await sleep(1500);
        const { rows } = await admin.query<{ pid: number }>(
          "select pid from pg_stat_activity where datname = $1 and application_name = 'pgbench'",
          [scratch],
        );
        const backends = rows.map((r) => r.pid);
        const from = { cpu: totalCpuUs(backends), at: performance.now() };
        await sleep(Math.max(1000, seconds * 1000 - 2500));
        const to = { cpu: totalCpuUs(backends), at: performance.now() };
        const { stdout } = await running;
        const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
        const tps = match ? Number(match) : null;
        const postgresCpuUsPerTx =
          tps && from.cpu !== null && to.cpu !== null
            ? Math.round((to.cpu - from.cpu) / (((to.at - from.at) / 1000) * tps))
            : null;
        return { tps: tps === null ? null : Math.round(tps), postgresCpuUsPerTx };
      } finally {
        await admin.query(`drop database if exists ${scratch}`);
      }
    }
    console.error('  pgbench not found: install the PostgreSQL client tools');
    return { tps: null, postgresCpuUsPerTx: null };
  } finally {
    await admin.end();
  }
}

async function main() {
  console.log(
    `point bench: ${seconds} s per shape, ${concurrency} concurrent spends, ${VIEWERS} viewers, on ${new URL(url).host}`,
  );
  const sharded = await startPoint(8, 32);
  let results: Record<string, unknown>;
  try {
    const { viewers, streamers } = await setUp(sharded);
    const job = (p: Point, to: string[], durationMs: number): LoadJob => ({
      url: p.platform.url('point'),
      key: p.key,
      viewers,
      streamers: to,
      durationMs,
    });
    await loadInWorker(job(sharded, streamers, 1000)); // warm-up
    const uniform = await loadInWorker(job(sharded, streamers, seconds * 1000));
    console.log(`  uniform (viewers → ${STREAMERS} streamers): ${describe(uniform)}`);
    const star = streamers[0] as string;
    const raid = await loadInWorker(job(sharded, [star], seconds * 1000));
    console.log(`  raid (viewers → 1 streamer, 8 receiving / 32 system shards): ${describe(raid)}`);
    const violations = await reconcile(sharded);
    console.log(`  reconciliation: ${violations} violations`);
    await stop(sharded);

    const single = await startPoint(1, 1);
    let raidUnsharded: Shape;
    let violationsOneShard: number;
    try {
      const s = await setUp(single);
      const star1 = s.streamers[0] as string;
      const oneJob = {
        url: single.platform.url('point'),
        key: single.key,
        viewers: s.viewers,
        streamers: [star1],
      };
      await loadInWorker({ ...oneJob, durationMs: 1000 });
      raidUnsharded = await loadInWorker({ ...oneJob, durationMs: seconds * 1000 });
      console.log(`  raid unsharded (1 shard per account): ${describe(raidUnsharded)}`);
      violationsOneShard = await reconcile(single);
    } finally {
      await stop(single);
    }

    const bench = await pgbench();
    const pgbenchTps = bench.tps;
    console.log(
      `  pgbench -N -c 8 (simple update, same server): ${pgbenchTps ?? 'n/a'} tps, PostgreSQL CPU ${bench.postgresCpuUsPerTx ?? 'n/a'} µs per transaction`,
    );
    results = {
      uniform,
      raid,
      raidUnsharded,
      pgbenchTps,
      pgbenchPostgresCpuUsPerTx: bench.postgresCpuUsPerTx,
      violations: violations + violationsOneShard,
      setup: {
        seconds,
        concurrency,
        viewers: VIEWERS,
        streamers: STREAMERS,
        receivingShards: 8,
        systemShards: 32,
        platformFeeBps: 1000,
        server: new URL(url).host,
      },
      loadAverage: loadavg().map((l) => Math.round(l * 10) / 10),
      cores: cpus().length,
      at: new Date().toISOString(),
    };
  } catch (err) {
    await stop(sharded).catch(() => {});
    throw err;
  }
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'points.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log('  wrote bench/results/points.json');
  if (results.violations !== 0) process.exitCode = 1;
}

if (isMainThread) await main();
