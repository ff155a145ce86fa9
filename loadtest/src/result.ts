import type { SqlRow } from './analyze.ts';
import type { MachineSample } from './machine.ts';
import type { Phases } from './mix.ts';
import type { ProcessSample } from './platform.ts';
import type { LedgerCheck } from './reconcile.ts';
import type { Second } from './recorder.ts';
import type { Latency, Period } from './run.ts';
import type { Check } from './verdict.ts';

export interface EndpointRow extends Latency {
  endpoint: string;
  statuses: Record<string, number>;
  errors: number;
}

/** Everything a run measured: written as loadtest-result.json, drawn as the HTML report. */
export interface Result {
  startedAt: string;
  command: string;
  target: string;
  options: { users: number; durationS: number; seed: number; kill?: { service: string; atS: number } };
  machine: { cores: number; model: string; loadAverageAtStart: number[]; note: string };
  setup: { seconds: number; streams: number; foundStreams: number; users: number; sourceAddresses: boolean };
  phases: Phases;
  totals: {
    requests: number;
    errors: number;
    explainedErrors: number;
    durationS: number;
    meanRate: number;
    peakRate: number;
    /** Over the hold phase: requests per second and users online, on average. */
    holdRate: number;
    holdUsers: number;
    /**
     * The platform's CPU time per HTTP request over the measured phase (all its threads), and the
     * wall-clock time PGlite spent running SQL per request: costs that hold whatever else runs.
     */
    platformCpuMsPerRequest?: number;
    sqlMsPerRequest?: number;
    users: {
      started: number;
      finished: number;
      failed: number;
      skipped: number;
      stuck: number;
      sharedPoolUsers: number;
    };
    sessions?: Latency;
    all?: Latency;
    /** Chat fan-out: a message's server timestamp → a chatter received it. */
    chatDelivery?: Latency;
  };
  /** Whether chatters were in the mix, and how they reached the rooms. */
  chat: { included: boolean; how: string };
  endpoints: EndpointRow[];
  /** Error answers by endpoint, status and the API's error code, with the first message seen. */
  errorAnswers: { endpoint: string; status: string; code: string; count: number; message: string }[];
  seconds: Second[];
  periods: { t: number; latency: Record<string, Latency> }[];
  degraded: {
    /** From the BFF's bff_degraded_sections_total. */
    metrics: Record<string, number>;
    /** From the `livehouse-degraded` header the client saw. */
    seenByClients: Record<string, number>;
    series: { t: number; bySection: Record<string, number> }[];
  };
  backendCalls: Record<string, number>;
  sql: SqlRow[];
  platform: {
    samples: (ProcessSample & { t: number })[];
    scraped: { t: number; cpuPercent?: number; lagP99Ms?: number }[];
  };
  generator: MachineSample[];
  kill?: { service: string; atS: number; viewFailures: number; explainedErrors: number };
  ledger: LedgerCheck;
  verdict: { pass: boolean; checks: Check[] };
  limits: string[];
}

export function periodsRelative(periods: Period[], startedAt: number) {
  // Artillery's windows are 10 s long, aligned to the wall clock: place each at its middle.
  return periods.map((p) => ({ t: Math.max(0, (p.at + 5000 - startedAt) / 1000), latency: p.latency }));
}
