import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * `livehouse serve <service> --workers <n|auto>`: one Node.js process uses about one core, so a pod given four
 * CPUs runs four workers (node:cluster) that share the service's listening ports. The primary only supervises:
 * it forwards SIGTERM to every worker (Kubernetes signals PID 1 alone), waits for all of them to drain, and exits
 * 0 when they all did.
 */

const MiB = 1024 * 1024;

/** cgroup v2 `cpu.max` ("<quota> <period>" or "max <period>") → CPUs, or undefined when unlimited. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (!quota || quota === 'max') return undefined;
  const cpus = Number(quota) / Number(period ?? 100_000);
  return Number.isFinite(cpus) && cpus > 0 ? cpus : undefined;
}

/** cgroup v2 `memory.max` (bytes or "max") → bytes, or undefined when unlimited. */
export function parseMemoryMax(text: string): number | undefined {
  const value = text.trim();
  if (value === 'max') return undefined;
  const bytes = Number(value);
  return Number.isFinite(bytes) && bytes > 0 ? bytes : undefined;
}

export interface Host {
  /** Reads a file, or returns undefined when it does not exist (no cgroup v2). */
  readFile(path: string): string | undefined;
  availableParallelism(): number;
}

const thisHost: Host = {
  readFile(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  availableParallelism,
};

export interface WorkerPlan {
  workers: number;
  /** --max-old-space-size for each worker, when the container has a memory limit. */
  heapMiB: number | undefined;
}

/**
 * `--workers` → how many workers and how much heap each. `auto`: the container's CPU quota (cgroup v2
 * /sys/fs/cgroup/cpu.max, rounded down, at least 1), else the CPUs the process may use. The heaps together take
 * about `heapShare` (75%) of the cgroup memory limit; the rest is for buffers, native memory and the primary.
 */
export function planWorkers(value: string, host: Host = thisHost, heapShare = 0.75): WorkerPlan {
  let workers: number;
  if (value === 'auto') {
    const quota = parseCpuMax(host.readFile('/sys/fs/cgroup/cpu.max') ?? 'max');
    const cpus = host.availableParallelism();
    workers = quota === undefined ? cpus : Math.max(1, Math.min(Math.floor(quota), cpus));
  } else if (/^[1-9]\d*$/.test(value)) {
    workers = Number(value);
  } else {
    throw new Error(`--workers must be a positive integer or 'auto', not '${value}'`);
  }
  const memory = parseMemoryMax(host.readFile('/sys/fs/cgroup/memory.max') ?? 'max');
  const heapMiB = memory === undefined ? undefined : Math.max(64, Math.floor((memory * heapShare) / workers / MiB));
  return { workers, heapMiB };
}

/**
 * V8 flags that cap a worker's whole heap (V8's heap_size_limit) at `heapMiB`: the young generation takes three
 * semi-spaces on top of --max-old-space-size (left alone, up to 192 MiB more per worker on Node 24), so the
 * semi-space is capped too: a power of two (V8 rounds it up to one) of at most 16 MiB.
 */
export function heapFlags(heapMiB: number): string[] {
  const semiSpace = 2 ** Math.floor(Math.log2(Math.max(1, Math.min(16, heapMiB / 48))));
  return [`--max-old-space-size=${heapMiB - 3 * semiSpace}`, `--max-semi-space-size=${semiSpace}`];
}

export interface RunWorkersOptions {
  /** Each worker's whole heap, in MiB (see heapFlags). */
  heapMiB?: number | undefined;
  /** After SIGTERM, how long the primary waits for the workers before killing them (they drain on their own). */
  shutdownTimeoutMs?: number;
  /** Restarts of crashed workers allowed per minute before the primary gives up (and the pod restarts). */
  maxRestartsPerMinute?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  exit?: (code: number) => void;
}

const READY = 'livehouse:worker-ready';

function jsonLog(msg: string, fields: Record<string, unknown> = {}) {
  process.stdout.write(
    `${JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, role: 'primary', ...fields, msg })}\n`,
  );
}

/**
 * In the primary: forks `n` workers (each re-runs this program with the same arguments) and supervises them.
 * In a worker: runs `startOne` (which listens; node:cluster shares the ports), then tells the primary it is ready.
 * A worker that fails before it is ready stops the whole process with its exit code (a bad config stays fatal);
 * one that crashes later is replaced.
 */
export async function runWorkers(n: number, startOne: () => Promise<void>, options: RunWorkersOptions = {}) {
  if (cluster.isWorker) {
    await startOne();
    process.send?.({ type: READY });
    return;
  }
  const log = options.log ?? jsonLog;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 60_000;
  const maxRestarts = options.maxRestartsPerMinute ?? 5;
  const execArgv = process.execArgv.filter((a) => !/^--max-(old|semi)-space-size/.test(a));
  if (options.heapMiB) execArgv.push(...heapFlags(options.heapMiB));
  cluster.setupPrimary({ execArgv });

  const ready = new Set<Worker>();
  const restarts: number[] = [];
  let stopping = false;
  let exitCode = 0;

  const fork = () => cluster.fork();
  const finishIfDone = () => {
    if (stopping && Object.keys(cluster.workers ?? {}).length === 0) {
      log('all workers stopped', { exitCode });
      exit(exitCode);
    }
  };
  const stop = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    log('stopping workers', { reason });
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => {
      const left = Object.values(cluster.workers ?? {});
      log('workers did not stop in time: killing them', { left: left.length });
      for (const w of left) w?.process.kill('SIGKILL');
      exit(1);
    }, shutdownTimeoutMs).unref();
    finishIfDone();
  };

  cluster.on('message', (worker, message: { type?: string }) => {
    if (message?.type !== READY) return;
    ready.add(worker);
    if (ready.size === n) log('workers ready', { workers: n, heapMiB: options.heapMiB });
  });
  cluster.on('exit', (worker, code, signal) => {
    const wasReady = ready.delete(worker);
    const failed = code !== 0 || (signal !== null && signal !== 'SIGTERM');
    if (stopping) {
      if (failed && exitCode === 0) exitCode = 1;
      return finishIfDone();
    }
    if (!wasReady) return stop(`a worker failed to start (exit ${code ?? signal})`, code || 1);
    const now = Date.now();
    while (restarts.length > 0 && restarts[0]! < now - 60_000) restarts.shift();
    if (restarts.length >= maxRestarts) return stop(`workers keep crashing (${maxRestarts} restarts in a minute)`, 1);
    restarts.push(now);
    log('worker exited: starting another', { pid: worker.process.pid, code, signal });
    fork();
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));

  log('starting workers', { workers: n, heapMiB: options.heapMiB });
  for (let i = 0; i < n; i++) fork();
}
