import { ENDPOINTS } from './endpoints.ts';
import { delta, firstValue, type Scrape, sumBy } from './prometheus.ts';

export interface SqlRow {
  service: string;
  requests: number;
  statements: number;
  perRequest: number | null;
  background: number;
  routes: { route: string; requests: number; statements: number; perRequest: number | null }[];
}

const HTTP_COUNT = 'http_request_duration_seconds_count';

/**
 * SQL statements per request, per service and route: db_queries_total over the run divided by the
 * requests that service answered (http_request_duration_seconds_count), both as deltas.
 * Statements outside any request (outbox relay, consumers) are `background`.
 */
export function sqlPerRequest(before: Scrape, after: Scrape): SqlRow[] {
  const rows: SqlRow[] = [];
  for (const service of Object.keys(after).sort()) {
    const requests = delta(sumBy(after[service], HTTP_COUNT, 'route'), sumBy(before[service], HTTP_COUNT, 'route'));
    const statements = delta(
      sumBy(after[service], 'db_queries_total', 'route'),
      sumBy(before[service], 'db_queries_total', 'route'),
    );
    const background = statements.get('background') ?? 0;
    const routes = [...new Set([...requests.keys(), ...statements.keys()])]
      .filter((route) => route !== 'background')
      .map((route) => {
        const r = requests.get(route) ?? 0;
        const s = statements.get(route) ?? 0;
        return { route, requests: r, statements: s, perRequest: r > 0 ? s / r : null };
      })
      .filter((r) => r.requests > 0 || r.statements > 0)
      .sort((a, b) => b.requests - a.requests);
    const totalRequests = routes.reduce((n, r) => n + r.requests, 0);
    const totalStatements = routes.reduce((n, r) => n + r.statements, 0);
    rows.push({
      service,
      requests: totalRequests,
      statements: totalStatements,
      perRequest: totalRequests > 0 ? totalStatements / totalRequests : null,
      background,
      routes,
    });
  }
  return rows;
}

/** bff_degraded_sections_total over the run, by "view.section". */
export function degradedTotals(before: Scrape, after: Scrape) {
  const key = (l: Record<string, string>) => `${l.view}.${l.section}`;
  return delta(
    sumBy(after.bff, 'bff_degraded_sections_total', key),
    sumBy(before.bff, 'bff_degraded_sections_total', key),
  );
}

/** backend_calls_total of the BFF over the run, by "backend outcome". */
export function backendCalls(before: Scrape, after: Scrape) {
  const key = (l: Record<string, string>) => `${l.backend} ${l.outcome}`;
  return delta(sumBy(after.bff, 'backend_calls_total', key), sumBy(before.bff, 'backend_calls_total', key));
}

export interface TimedScrape {
  t: number;
  scrape: Scrape;
}

/** Per interval between scrapes: degraded sections per second, by section. */
export function degradedSeries(scrapes: TimedScrape[]) {
  const out: { t: number; bySection: Record<string, number> }[] = [];
  for (let i = 1; i < scrapes.length; i++) {
    const a = scrapes[i - 1]!;
    const b = scrapes[i]!;
    const seconds = Math.max(0.001, b.t - a.t);
    const d = degradedTotals(a.scrape, b.scrape);
    out.push({ t: b.t, bySection: Object.fromEntries([...d].map(([k, v]) => [k, v / seconds])) });
  }
  return out;
}

/** Process metrics that prom-client reports for the platform (whoever started it): CPU %, loop lag. */
export function processSeries(scrapes: TimedScrape[]) {
  const out: { t: number; cpuPercent?: number; lagP99Ms?: number }[] = [];
  for (let i = 1; i < scrapes.length; i++) {
    const a = scrapes[i - 1]!;
    const b = scrapes[i]!;
    const cpuA = firstValue(a.scrape, 'process_cpu_seconds_total');
    const cpuB = firstValue(b.scrape, 'process_cpu_seconds_total');
    const lag = firstValue(b.scrape, 'nodejs_eventloop_lag_p99_seconds');
    out.push({
      t: b.t,
      ...(cpuA !== undefined &&
        cpuB !== undefined && { cpuPercent: ((cpuB - cpuA) / Math.max(0.001, b.t - a.t)) * 100 }),
      ...(lag !== undefined && { lagP99Ms: lag * 1000 }),
    });
  }
  return out;
}

/**
 * 5xx answers from views whose required backends do not include the killed one, counted after the
 * kill: each of these is a view that should have degraded instead.
 */
export function viewFailuresAfterKill(statusesAfterKill: Map<string, Map<string, number>>, killed: string) {
  let failures = 0;
  for (const [endpoint, byStatus] of statusesAfterKill) {
    const e = ENDPOINTS[endpoint];
    if (e?.kind !== 'view' || e.needs.includes(killed)) continue;
    for (const [status, n] of byStatus) if (/^5\d\d$/.test(status)) failures += n;
  }
  return failures;
}
