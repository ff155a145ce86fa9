import { createRequire } from 'node:module';
import type { Recorder } from './recorder.ts';

/** The parts of @artilleryio/int-core (artillery's engine) this load test drives. */
interface Sketch {
  getValueAtQuantile(q: number): number;
  count: number;
  min: number;
  max: number;
  sum: number;
}
interface PeriodData {
  period: number | string;
  counters: Record<string, number>;
  histograms: Record<string, Sketch>;
}
interface RunnerEvents {
  on(event: 'stats', listener: (data: PeriodData) => void): void;
  on(event: 'done', listener: (data: PeriodData) => void): void;
  on(event: 'phaseStarted' | 'phaseCompleted', listener: (spec: { name?: string }) => void): void;
  run(contextVars?: Record<string, unknown>): void;
  stop(): Promise<void>;
}
interface IntCore {
  updateGlobalObject(options?: Record<string, unknown>): Promise<void>;
  ssms: { SSMS: { pack(periods: PeriodData[]): PeriodData } };
  runner: { runner(script: unknown, payload: unknown, options: Record<string, unknown>): Promise<RunnerEvents> };
}

const core = createRequire(import.meta.url)('@artilleryio/int-core') as IntCore;

export interface Latency {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** One 10-second window of artillery's metrics, reduced to what the report shows. */
export interface Period {
  at: number;
  latency: Record<string, Latency>;
  /** endpoint → status → count */
  responses: Record<string, Record<string, number>>;
  errors: Record<string, number>;
}

export interface RunResult {
  periods: Period[];
  totals: Period;
  /** Session lengths (ms) artillery measured. */
  sessions: Latency | undefined;
  usersCreated: number;
  usersSkipped: number;
  /** Sessions still running when the drain timeout ended the run (they should not exist). */
  stuckUsers: number;
}

function summarize(sketch: Sketch): Latency {
  const q = (x: number) => Math.round(sketch.getValueAtQuantile(x) * 10) / 10;
  return { count: sketch.count, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: Math.round(sketch.max * 10) / 10 };
}

export function toPeriod(data: PeriodData): Period {
  const latency: Record<string, Latency> = {};
  for (const [name, sketch] of Object.entries(data.histograms ?? {})) {
    if (name.startsWith('lat|')) latency[name.slice(4)] = summarize(sketch);
  }
  const responses: Record<string, Record<string, number>> = {};
  const errors: Record<string, number> = {};
  for (const [name, n] of Object.entries(data.counters ?? {})) {
    if (name.startsWith('req|')) {
      const cut = name.lastIndexOf('|');
      const endpoint = name.slice(4, cut);
      const byStatus = responses[endpoint] ?? {};
      responses[endpoint] = byStatus;
      byStatus[name.slice(cut + 1)] = (byStatus[name.slice(cut + 1)] ?? 0) + n;
    } else if (name.startsWith('errors.')) errors[name.slice(7)] = n;
  }
  return { at: Number(data.period), latency, responses, errors };
}

/**
 * Runs the script with artillery's runner in this process, a progress line every second, and
 * `onSecond` for whatever else has to happen on time (metric scrapes, the kill).
 */
export async function runArtillery(
  script: unknown,
  options: {
    recorder: Recorder;
    progress: (line: string, final?: boolean) => void;
    onSecond: (elapsedS: number) => void;
    /** After the last arrival, how long sessions may take to finish before the run is cut. */
    drainTimeoutS?: number;
  },
): Promise<RunResult> {
  await core.updateGlobalObject();
  const runner = await core.runner.runner(script, undefined, {});
  const raw: PeriodData[] = [];
  let phase = 'starting';
  runner.on('phaseStarted', (spec) => {
    phase = spec.name ?? phase;
  });
  runner.on('stats', (data) => raw.push(data));
  const r = options.recorder;
  const started = Date.now();
  const timer = setInterval(() => {
    const elapsed = Math.round((Date.now() - started) / 1000);
    options.onSecond(elapsed);
    options.progress(
      `${String(elapsed).padStart(4)}s ${phase.padEnd(9)} users ${String(r.activeUsers).padStart(4)}  ` +
        `requests ${String(r.requests).padStart(7)}  errors ${String(r.errors).padStart(4)}` +
        (r.explainedErrors ? ` (+${r.explainedErrors} explained by the kill)` : '') +
        `  ${r.currentRate().toFixed(1).padStart(6)} req/s`,
    );
  }, 1000);
  let stuckUsers = 0;
  let drainTimer: NodeJS.Timeout | undefined;
  const done = new Promise<PeriodData>((resolve) => {
    runner.on('done', resolve);
    // A session that never ends would keep artillery waiting forever: cut the run, say so.
    runner.on('phaseCompleted', (spec) => {
      if (spec.name !== 'ramp down') return;
      phase = 'finishing';
      drainTimer = setTimeout(
        () => {
          stuckUsers = r.activeUsers;
          resolve(core.ssms.SSMS.pack(raw.map((p) => ({ ...p }))));
        },
        (options.drainTimeoutS ?? 90) * 1000,
      );
    });
  });
  runner.run();
  const totals = await done;
  clearTimeout(drainTimer);
  clearInterval(timer);
  await runner.stop();
  const periods = raw.map(toPeriod);
  options.progress(
    `${Math.round((Date.now() - started) / 1000)}s done: ${r.requests} requests, ${r.errors} errors`,
    true,
  );
  const sessions = totals.histograms?.['vusers.session_length'];
  return {
    periods: periods.sort((a, b) => a.at - b.at),
    totals: toPeriod(totals),
    sessions: sessions ? summarize(sessions) : undefined,
    usersCreated: totals.counters?.['vusers.created'] ?? 0,
    usersSkipped: totals.counters?.['vusers.skipped'] ?? 0,
    stuckUsers,
  };
}
