import { writeFile } from 'node:fs/promises';
import { escapeXml as esc, grid, lineChart, type Series } from './charts.ts';
import type { Result } from './result.ts';

const n = (x: number | null | undefined, digits = 0) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Seconds → buckets of `size` seconds, averaging per second. */
function bucket(points: [number, number][], size: number): [number, number][] {
  const sums = new Map<number, { sum: number; count: number }>();
  for (const [t, v] of points) {
    const b = Math.floor(t / size);
    const s = sums.get(b) ?? { sum: 0, count: 0 };
    s.sum += v;
    s.count++;
    sums.set(b, s);
  }
  return [...sums].sort((a, b) => a[0] - b[0]).map(([b, s]) => [b * size + size / 2, s.sum / s.count]);
}

function markers(r: Result) {
  const m = [
    { x: r.phases.rampUpS, label: 'hold' },
    { x: r.phases.rampUpS + r.phases.holdS, label: 'ramp down' },
  ];
  if (r.kill) m.push({ x: r.kill.atS, label: `${r.kill.service} killed` });
  return m;
}

/** Endpoints in the order of their share of traffic. */
const endpointsByCount = (r: Result) => r.endpoints.map((e) => e.endpoint);

export function charts(r: Result, size = { width: 760, height: 300 }) {
  const xMax = Math.max(r.seconds.length, ...r.periods.map((p) => p.t));
  const common = { ...size, xMax, markers: markers(r) };
  const sec = r.seconds.map((s, i) => [i + 0.5, s] as const);

  const throughput = lineChart({
    ...common,
    title: 'Throughput (requests/s, 5-second average) and users online',
    yLabel: 'requests/s · users',
    series: [
      {
        name: 'all requests/s',
        points: bucket(
          sec.map(([t, s]) => [t, s.requests]),
          5,
        ),
        color: '#111',
      },
      {
        name: 'errors/s',
        points: bucket(
          sec.map(([t, s]) => [t, s.errors]),
          5,
        ),
        color: '#d62728',
      },
      { name: 'users online', points: sec.map(([t, s]) => [t, s.activeUsers]), color: '#7f7f7f', dashed: true },
      ...endpointsByCount(r)
        .slice(0, 5)
        .map((e) => ({
          name: e,
          points: bucket(
            sec.map(([t, s]) => [t, s.byEndpoint[e] ?? 0]),
            5,
          ),
        })),
    ],
  });

  const all = r.periods.filter((p) => p.latency['*']);
  const latency = lineChart({
    ...common,
    title: 'Latency of all HTTP requests (10-second windows)',
    yLabel: 'milliseconds',
    limits: [{ y: limitOf(r), label: `p99 limit ${limitOf(r)} ms` }],
    series: (['p50', 'p95', 'p99'] as const).map((q, i) => ({
      name: q,
      points: all.map((p) => [p.t, p.latency['*']![q]] as [number, number]),
      color: ['#2ca02c', '#ff7f0e', '#d62728'][i]!,
      dots: true,
    })),
  });

  const perEndpoint = lineChart({
    ...common,
    title: 'p99 latency per endpoint (10-second windows)',
    yLabel: 'milliseconds',
    series: endpointsByCount(r).map((e) => ({
      name: e,
      points: r.periods.filter((p) => p.latency[e]).map((p) => [p.t, p.latency[e]!.p99] as [number, number]),
      dots: true,
    })),
  });

  const sections = [...new Set(r.degraded.series.flatMap((s) => Object.keys(s.bySection)))].sort();
  const degraded = lineChart({
    ...common,
    title: "Degraded view sections per second (BFF's bff_degraded_sections_total)",
    yLabel: 'sections/s',
    series:
      sections.length > 0
        ? sections.map((k) => ({
            name: k,
            points: r.degraded.series.map((s) => [s.t, s.bySection[k] ?? 0] as [number, number]),
            dots: true,
          }))
        : [{ name: 'none degraded', points: r.degraded.series.map((s) => [s.t, 0] as [number, number]) }],
  });

  const platformSeries: Series[] = [];
  if (r.platform.samples.length > 0) {
    const ps = r.platform.samples;
    platformSeries.push(
      {
        name: 'platform event loop busy %',
        points: ps.map((s) => [s.t, s.eventLoop.utilization * 100]),
        color: '#1f77b4',
      },
      { name: 'platform CPU % of one core', points: ps.map((s) => [s.t, s.cpuPercent]), color: '#ff7f0e' },
    );
    if (ps.some((s) => s.db)) {
      platformSeries.push(
        { name: 'PGlite running SQL %', points: ps.map((s) => [s.t, s.db?.sqlPercent ?? 0]), color: '#2ca02c' },
        {
          name: 'PGlite session held %',
          points: ps.map((s) => [s.t, s.db?.sessionHeldPercent ?? 0]),
          color: '#9467bd',
          dashed: true,
        },
      );
    }
  } else if (r.platform.scraped.length > 0) {
    platformSeries.push({
      name: 'platform CPU % of one core (process_cpu_seconds_total)',
      points: r.platform.scraped.filter((s) => s.cpuPercent !== undefined).map((s) => [s.t, s.cpuPercent!]),
      color: '#ff7f0e',
      dots: true,
    });
  }
  platformSeries.push(
    {
      name: `machine CPU % of all ${r.machine.cores} cores (all processes)`,
      points: r.generator.filter((g) => g.machineCpuPercent !== undefined).map((g) => [g.t, g.machineCpuPercent!]),
      color: '#7f7f7f',
    },
    {
      name: 'CPU pressure % (tasks waiting for a core)',
      points: r.generator.filter((g) => g.cpuPressurePercent !== undefined).map((g) => [g.t, g.cpuPressurePercent!]),
      color: '#d62728',
      dashed: true,
    },
    {
      name: 'load generator CPU % of one core',
      points: r.generator.map((g) => [g.t, g.generatorCpuPercent]),
      color: '#8c564b',
      dashed: true,
    },
  );
  const platform = lineChart({
    ...common,
    title: 'What the machine was doing (1-second samples)',
    yLabel: 'percent',
    series: platformSeries.map((s) => ({ ...s, points: bucket(s.points, 2) })),
  });

  const lagSeries: Series[] = [];
  if (r.platform.samples.length > 0) {
    lagSeries.push(
      {
        name: 'platform event-loop delay p99',
        points: r.platform.samples.map((s) => [s.t, s.eventLoop.delayP99Ms]),
        color: '#1f77b4',
      },
      {
        name: 'platform event-loop delay max',
        points: r.platform.samples.map((s) => [s.t, s.eventLoop.delayMaxMs]),
        color: '#aec7e8',
        dashed: true,
      },
    );
    if (r.platform.samples.some((s) => s.db)) {
      lagSeries.push({
        name: 'wait for the PGlite session, p99',
        points: r.platform.samples.map((s) => [s.t, s.db?.lockWaitP99Ms ?? 0]),
        color: '#9467bd',
      });
    }
  } else {
    lagSeries.push({
      name: 'platform event-loop lag p99 (nodejs_eventloop_lag_p99_seconds)',
      points: r.platform.scraped.filter((s) => s.lagP99Ms !== undefined).map((s) => [s.t, s.lagP99Ms!]),
      color: '#1f77b4',
      dots: true,
    });
  }
  lagSeries.push({
    name: 'load generator event-loop delay p99',
    points: r.generator.map((g) => [g.t, g.generatorLoopDelayP99Ms]),
    color: '#8c564b',
    dashed: true,
  });
  const lag = lineChart({
    ...common,
    title: 'Event-loop delay and database wait',
    yLabel: 'milliseconds',
    series: lagSeries,
  });

  return { throughput, latency, perEndpoint, degraded, platform, lag };
}

/** How much work one public request causes behind the BFF: backend HTTP calls and SQL statements. */
export function fanOut(r: Result) {
  const bff = r.sql.find((s) => s.service === 'bff')?.requests ?? 0;
  if (bff === 0) return '–';
  const calls = Object.values(r.backendCalls).reduce((a, b) => a + b, 0);
  const statements = r.sql.reduce((n, s) => n + s.statements, 0);
  return `${n(calls / bff, 2)} · ${n(statements / bff, 2)}`;
}

function limitOf(r: Result) {
  const c = r.verdict.checks.find((x) => x.name === 'p99 latency, all HTTP requests');
  const m = c ? /(\d+)/.exec(c.limit) : null;
  return m ? Number(m[1]) : 250;
}

export function chartGrid(r: Result) {
  const c = charts(r, { width: 800, height: 330 });
  const verdict = r.verdict.pass ? 'PASS' : 'FAIL';
  return grid(
    [c.throughput, c.latency, c.perEndpoint, c.degraded, c.platform, c.lag],
    2,
    { width: 800, height: 330 },
    `livehouse load test — ${r.options.users} users, ${r.options.durationS} s, ${n(r.totals.holdRate, 1)} req/s in the hold, p99 ${n(r.totals.all?.p99)} ms, ${r.totals.errors} errors — ${verdict}`,
  );
}

function table(head: string[], rows: (string | number)[][], numericFrom = 1) {
  const th = head.map((h, i) => `<th${i >= numericFrom ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const trs = rows
    .map(
      (row) =>
        `<tr>${row.map((c, i) => `<td${i >= numericFrom ? ' class="num"' : ''}>${typeof c === 'number' ? n(c) : c}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>${trs}</tbody></table>`;
}

export function html(r: Result, pngName: string) {
  const c = charts(r);
  const statusKeys = [...new Set(r.endpoints.flatMap((e) => Object.keys(e.statuses)))].sort();
  const degradedKeys = [
    ...new Set([...Object.keys(r.degraded.metrics), ...Object.keys(r.degraded.seenByClients)]),
  ].sort();
  const ledger =
    r.ledger.checked === true
      ? r.ledger.ok
        ? `<p class="ok">Reconciliation at ${esc(r.ledger.checkedAt)}: every invariant holds (balanced ledger, balances = postings, purchases = payments, revenue = fees, no negative balance, history = balances).</p>`
        : `<p class="bad">Reconciliation found ${r.ledger.violations.length} violation(s):</p>${table(
            ['invariant', 'detail'],
            r.ledger.violations.map((v) => [esc(v.invariant), esc(v.detail)]),
            2,
          )}`
      : `<p class="bad">Not checked: ${esc(r.ledger.reason)}</p>`;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>livehouse load test — ${r.verdict.pass ? 'PASS' : 'FAIL'}</title>
<style>
body { font-family: system-ui, 'DejaVu Sans', sans-serif; margin: 24px auto; max-width: 1600px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; } th { background: #f5f5f5; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { display: inline-block; padding: 6px 14px; border-radius: 4px; color: #fff; font-weight: bold; font-size: 18px; }
.pass { background: #2a7d2a; } .fail { background: #b02020; }
.ok { color: #2a7d2a; } .bad { color: #b02020; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(760px, 1fr)); gap: 12px; }
.note { color: #555; font-size: 13px; max-width: 1000px; }
code { background: #f3f3f3; padding: 1px 4px; }
</style></head><body>
<h1>livehouse load test <span class="verdict ${r.verdict.pass ? 'pass' : 'fail'}">${r.verdict.pass ? 'PASS' : 'FAIL'}</span></h1>
<p><code>${esc(r.command)}</code><br>
${esc(r.startedAt)} · target: ${esc(r.target)} · ${r.options.users} users, ${r.options.durationS} s of arrivals (ramp up ${r.phases.rampUpS} s, hold ${r.phases.holdS} s, ramp down ${r.phases.rampDownS} s)${r.kill ? ` · <b>${esc(r.kill.service)} killed at ${n(r.kill.atS, 1)} s</b>` : ''} · seed ${r.options.seed}</p>
<p class="note">Machine: ${r.machine.cores} × ${esc(r.machine.model)}, load average ${r.machine.loadAverageAtStart.map((x) => x.toFixed(1)).join(' / ')} at the start. ${esc(r.machine.note)}</p>

<h2>Verdict</h2>
${table(
  ['check', 'limit', 'measured', ''],
  r.verdict.checks.map((ch) => [
    esc(ch.name),
    esc(ch.limit),
    esc(ch.actual),
    ch.pass ? '<span class="ok">pass</span>' : '<span class="bad">FAIL</span>',
  ]),
  9,
)}

<h2>Summary</h2>
${table(
  ['', 'value'],
  [
    ['requests', n(r.totals.requests)],
    ['errors (5xx, 4xx, no answer)', n(r.totals.errors)],
    ...(r.kill
      ? [[`failures explained by the kill (endpoints that need ${esc(r.kill.service)})`, n(r.kill.explainedErrors)]]
      : []),
    [
      'hold phase: throughput (req/s) · users online, on average',
      `${n(r.totals.holdRate, 1)} · ${n(r.totals.holdUsers)}`,
    ],
    ['whole run: mean / peak throughput (req/s)', `${n(r.totals.meanRate, 1)} / ${n(r.totals.peakRate, 1)}`],
    [
      'platform CPU per HTTP request (ms)',
      r.totals.platformCpuMsPerRequest === undefined
        ? '–'
        : `${n(r.totals.platformCpuMsPerRequest, 1)}${r.totals.sqlMsPerRequest === undefined ? '' : ` (PGlite running SQL: ${n(r.totals.sqlMsPerRequest, 1)} ms wall clock)`}`,
    ],
    ['per public (BFF) request: backend calls · SQL statements', fanOut(r)],
    [
      'latency p50 / p95 / p99 / max (ms), all requests',
      r.totals.all
        ? `${n(r.totals.all.p50, 1)} / ${n(r.totals.all.p95, 1)} / ${n(r.totals.all.p99, 1)} / ${n(r.totals.all.max, 1)}`
        : '–',
    ],
    [
      'chat fan-out delay p50 / p95 / p99 (ms), message → reader',
      r.totals.chatDelivery
        ? `${n(r.totals.chatDelivery.p50, 1)} / ${n(r.totals.chatDelivery.p95, 1)} / ${n(r.totals.chatDelivery.p99, 1)} (${n(r.totals.chatDelivery.count)} deliveries)`
        : '–',
    ],
    [
      'users: started / finished / failed / skipped',
      `${r.totals.users.started} / ${r.totals.users.finished} / ${r.totals.users.failed} / ${r.totals.users.skipped}`,
    ],
    [
      'session length p50 / p95 (s)',
      r.totals.sessions ? `${n(r.totals.sessions.p50 / 1000, 1)} / ${n(r.totals.sessions.p95 / 1000, 1)}` : '–',
    ],
    [
      'set-up (not measured)',
      `${r.setup.streams} live streams (${r.setup.foundStreams} found already live), ${r.setup.users} users signed up, ${n(r.setup.seconds, 1)} s`,
    ],
    [
      'clients',
      r.setup.sourceAddresses
        ? 'each user from its own 127.x.y.z address (per-IP rate limits see many clients)'
        : 'one source address',
    ],
  ],
  9,
)}

<h2>What limited this run</h2>
<ul>${r.limits.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>

<h2>Charts</h2>
<p class="note">Also as one picture: <a href="${esc(pngName)}">${esc(pngName)}</a>. Dashed vertical lines: phase changes${r.kill ? ' and the kill' : ''}.</p>
<div class="charts">${c.throughput}${c.latency}${c.perEndpoint}${c.degraded}${c.platform}${c.lag}</div>

<h2>Endpoints</h2>
${table(
  ['endpoint', 'requests', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'errors'],
  r.endpoints.map((e) => [esc(e.endpoint), e.count, n(e.p50, 1), n(e.p95, 1), n(e.p99, 1), n(e.max, 1), e.errors]),
)}

<h2>Answers by status</h2>
${table(
  ['endpoint', ...statusKeys],
  r.endpoints.map((e) => [esc(e.endpoint), ...statusKeys.map((s) => e.statuses[s] ?? 0)]),
)}
${
  r.errorAnswers.length === 0
    ? '<p class="ok">No error answers.</p>'
    : `<p class="note">Error answers by the API's error code (the message is the first one seen):</p>${table(
        ['endpoint', 'status', 'code', 'first message', 'count'],
        r.errorAnswers.map((e) => [esc(e.endpoint), esc(e.status), esc(e.code), esc(e.message), e.count]),
        4,
      )}`
}

<h2>Degraded view sections</h2>
<p class="note">A view answers 200 without a failing optional section and lists it in <code>meta.degraded</code>. From the BFF's
<code>bff_degraded_sections_total</code> (scraped from its admin port) and from the <code>livehouse-degraded</code> header the clients saw.</p>
${
  degradedKeys.length === 0
    ? '<p class="ok">No section was degraded.</p>'
    : table(
        ['view.section', 'BFF metric', 'seen by clients'],
        degradedKeys.map((k) => [esc(k), r.degraded.metrics[k] ?? 0, r.degraded.seenByClients[k] ?? 0]),
      )
}
<p class="note">BFF calls to backends by outcome: ${
    Object.entries(r.backendCalls)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${esc(k)} ${n(v)}`)
      .join(' · ') || 'not scraped'
  }</p>

<h2>SQL statements per request</h2>
<p class="note"><code>db_queries_total</code> ÷ <code>http_request_duration_seconds_count</code> over the run, per service and route
(scraped from each service's admin port). Statements outside requests (outbox relay, consumers) are “background”.</p>
${
  r.sql.length === 0
    ? '<p class="bad">Not measured: no admin port could be scraped.</p>'
    : table(
        ['service', 'requests', 'statements', 'per request', 'background'],
        r.sql.map((s) => [esc(s.service), s.requests, s.statements, n(s.perRequest, 2), s.background]),
      ) +
      table(
        ['service route', 'requests', 'statements', 'per request'],
        r.sql
          .filter((s) => s.statements > 0)
          .flatMap((s) =>
            s.routes.map((rt) => [
              `${esc(s.service)} ${esc(rt.route)}`,
              rt.requests,
              rt.statements,
              n(rt.perRequest, 2),
            ]),
          ),
      )
}

<h2>Points ledger after the run</h2>
${ledger}

<h2>The mix</h2>
<p class="note">Users arrive at ${n(r.phases.arrivalsPerS, 2)}/s during the hold (ramping up from and down to zero) and stay for one session:
${r.chat.included ? '50' : '60'}% <b>viewers</b> (home, then five stream/channel/profile pages with 1–5 s think time; app users revalidate the stamp catalog by ETag),
25% <b>members</b> (log in with a password, home, follow the streamer they watch, browse),
15% <b>supporters</b> (home, buy 500 points, send four stamps — 60% free, 40% paid — each with a fresh Idempotency-Key)${
    r.chat.included
      ? ',<br>10% <b>chatters</b> (open a stream’s chat room over WebSocket, read for about 20 s; logged-in ones — 70% — post about every 8 s).'
      : '.'
  }
60% use the app API (<code>/app/v1</code>), 40% the web API (<code>/web/v1</code>). Stream choice is Zipf-distributed (popular streams get most viewers).
Chat: ${esc(r.chat.how)}.</p>
</body></html>
`;
}

export async function writeReport(r: Result, files: { html: string; png: string; pngName: string }) {
  await writeFile(files.html, html(r, files.pngName));
  const { default: sharp } = await import('sharp');
  await sharp(Buffer.from(chartGrid(r)))
    .png()
    .toFile(files.png);
}
