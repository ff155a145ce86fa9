#!/usr/bin/env node
/**
 * `npm run loadtest`: plays a streaming site's traffic mix against livehouse (the embedded platform
 * it starts, or --target), and writes loadtest-report.html, loadtest-chart.png and
 * loadtest-result.json with a pass/fail verdict against loadtest/thresholds.yaml. See README.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  backendCalls,
  degradedSeries,
  degradedTotals,
  processSeries,
  sqlPerRequest,
  type TimedScrape,
  viewFailuresAfterKill,
} from './src/analyze.ts';
import { CHAT_DELIVERY } from './src/chat.ts';
import { diagnose } from './src/diagnose.ts';
import { explainedByKill } from './src/endpoints.ts';
import { SourceAddresses } from './src/http.ts';
import { machineInfo, watchMachine } from './src/machine.ts';
import { createMix } from './src/mix.ts';
import { parseOptions, USAGE, UsageError } from './src/options.ts';
import { connectTarget, startEmbedded, type Target } from './src/platform.ts';
import { scrapeAll } from './src/prometheus.ts';
import { checkLedger } from './src/reconcile.ts';
import { Recorder } from './src/recorder.ts';
import { fanOut, writeReport } from './src/report.ts';
import { type EndpointRow, periodsRelative, type Result } from './src/result.ts';
import { runArtillery } from './src/run.ts';
import { setUp } from './src/setup.ts';
import { judge, loadThresholds } from './src/verdict.ts';

const log = (line: string) => console.log(`loadtest: ${line}`);

function progressPrinter() {
  const tty = process.stdout.isTTY;
  let last = 0;
  return (line: string, final = false) => {
    if (tty) {
      process.stdout.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    } else if (final || Date.now() - last >= 5000) {
      console.log(line);
      last = Date.now();
    }
  };
}

async function main(argv: string[]) {
  const options = parseOptions(argv);
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const thresholds = await loadThresholds(options.thresholds);
  const out = resolve(options.out);
  await mkdir(out, { recursive: true });
  const files = {
    html: join(out, 'loadtest-report.html'),
    png: join(out, 'loadtest-chart.png'),
    pngName: 'loadtest-chart.png',
    json: join(out, 'loadtest-result.json'),
    log: join(out, 'loadtest-platform.log'),
  };
  if (options.render) {
    const saved = JSON.parse(await readFile(options.render, 'utf8')) as Result;
    saved.limits = diagnose(saved);
    await writeReport(saved, files);
    log(`report: ${files.html}\n          chart: ${files.png}`);
    return saved.verdict.pass ? 0 : 1;
  }
  const startedAt = new Date();
  const machine = machineInfo();

  let target: Target;
  if (options.target) {
    target = await connectTarget({
      target: options.target,
      admin: options.admin,
      pointUrl: options.pointUrl,
      dataDir: options.dataDir,
    });
  } else {
    log(`starting the embedded platform${options.db ? ' on PostgreSQL' : ''} (its log: ${files.log}) …`);
    target = await startEmbedded({
      ...(options.db && { db: options.db }),
      timeoutScale: options.timeoutScale,
      logFile: files.log,
    });
  }
  // Ctrl-C: stop the embedded platform (and drop its data) before leaving.
  const interrupted = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping …`);
    target.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    log(`target: ${target.description} — public API ${target.bff}`);
    const addresses = new SourceAddresses(target.bff);
    const setupStarted = Date.now();
    const world = await setUp(target.bff, { users: options.users, addresses, log });
    const setupSeconds = (Date.now() - setupStarted) / 1000;
    log(
      `set-up done in ${setupSeconds.toFixed(1)} s: ${world.streams.length} live streams, ${world.users.length} users`,
    );

    const before = await scrapeAll(target.admin);
    if (Object.keys(target.admin).length > 0 && Object.keys(before).length === 0) {
      log('warning: no admin port answered /metrics: SQL and degraded-section figures will be missing');
    }
    const recorder = new Recorder();
    const watch = watchMachine(recorder.startedAt);
    const rel = (at: number) => (at - recorder.startedAt) / 1000;
    const scrapes: TimedScrape[] = [{ t: 0, scrape: before }];
    const platformStart = target.samples.length;
    const chatUse = !options.chat
      ? { included: false, how: 'left out (--no-chat)' }
      : target.chat
        ? {
            included: true,
            how: `WebSocket rooms opened on the BFF's public socket (/web/v1/streams/:id/chat) with each user's access token; the BFF relays to chat (${target.chat.api})`,
          }
        : { included: false, how: 'no chat service reachable (or no internal key)' };
    const { script, phases, pool } = createMix(world, {
      bff: target.bff,
      users: options.users,
      durationS: options.durationS,
      seed: options.seed,
      recorder,
      addresses,
      chat: options.chat ? target.chat : undefined,
    });
    log(
      `measured phase: ${options.users} users (${phases.arrivalsPerS.toFixed(2)} arrivals/s), ramp up ${phases.rampUpS} s, ` +
        `hold ${phases.holdS} s, ramp down ${phases.rampDownS} s, then sessions finish${options.kill ? `; ${options.kill.service} is killed at ${options.kill.atS} s` : ''}`,
    );

    let scraping = false;
    let killSent = false;
    const run = await runArtillery(script, {
      recorder,
      progress: progressPrinter(),
      onSecond: (elapsed) => {
        if (elapsed % 5 === 0 && !scraping) {
          scraping = true;
          const t = rel(Date.now());
          scrapeAll(target.admin)
            .then((scrape) => scrapes.push({ t, scrape }))
            .finally(() => {
              scraping = false;
            });
        }
        if (options.kill && !killSent && elapsed >= options.kill.atS && target.kill) {
          killSent = true;
          recorder.killed = { service: options.kill.service, at: Date.now() };
          target.kill(options.kill.service).catch((err: unknown) => log(`kill failed: ${(err as Error).message}`));
        }
      },
    });
    while (scraping) await new Promise((r) => setTimeout(r, 50));
    const after = await scrapeAll(target.admin);
    scrapes.push({ t: rel(Date.now()), scrape: after });
    watch.stop();
    log('checking the points ledger (reconciliation) …');
    const ledger = await checkLedger(target.ledger);

    const endpoints: EndpointRow[] = [...recorder.statuses]
      .map(([endpoint, byStatus]) => {
        const statuses = Object.fromEntries(byStatus);
        const lat = run.totals.latency[endpoint];
        const count = [...byStatus.values()].reduce((a, b) => a + b, 0);
        const errors = [...byStatus].filter(([s]) => !/^[23]\d\d$/.test(s)).reduce((a, [, v]) => a + v, 0);
        return {
          endpoint,
          count,
          p50: lat?.p50 ?? NaN,
          p95: lat?.p95 ?? NaN,
          p99: lat?.p99 ?? NaN,
          max: lat?.max ?? NaN,
          statuses,
          errors,
        };
      })
      .sort((a, b) => b.count - a.count);

    const durationS = recorder.seconds.length;
    const kill = recorder.killed
      ? {
          service: recorder.killed.service,
          atS: rel(recorder.killed.at),
          viewFailures: viewFailuresAfterKill(recorder.statusesAfterKill, recorder.killed.service),
          explainedErrors: recorder.explainedErrors,
        }
      : undefined;
    const p99: Record<string, number> = {};
    if (run.totals.latency['*']) p99['*'] = run.totals.latency['*'].p99;
    for (const e of endpoints) {
      // With a backend killed, the endpoints that need it fail fast by design: their latency says nothing.
      if (Number.isFinite(e.p99) && !(kill && explainedByKill(e.endpoint, kill.service))) p99[e.endpoint] = e.p99;
    }
    const verdict = judge(thresholds, {
      p99,
      requests: recorder.requests,
      errors: recorder.errors,
      ledger: ledger.checked ? { checked: true, violations: ledger.violations.length } : ledger,
      ...(kill && { kill: { service: kill.service, viewFailures: kill.viewFailures } }),
    });

    const samples = target.samples.slice(platformStart).map((s) => ({ ...s, t: rel(s.at) }));
    const scraped = processSeries(scrapes);
    const httpRequests = run.totals.latency['*']?.count ?? 0;
    // Each sample covers one second: its percentages are milliseconds per 10 ms.
    const cpuMs =
      samples.length > 0
        ? samples.reduce((n, s) => n + s.cpuPercent * 10, 0)
        : scraped.length > 1
          ? scraped.reduce((n, s, i) => n + (s.cpuPercent ?? 0) * 10 * (s.t - (i > 0 ? scraped[i - 1]!.t : 0)), 0)
          : undefined;
    const sqlMs = samples.some((s) => s.db) ? samples.reduce((n, s) => n + (s.db?.sqlPercent ?? 0) * 10, 0) : undefined;
    const hold = recorder.seconds.slice(phases.rampUpS, phases.rampUpS + phases.holdS);
    const holdMean = (f: (s: (typeof hold)[number]) => number) =>
      hold.length === 0 ? 0 : hold.reduce((n, s) => n + f(s), 0) / hold.length;
    const partial: Omit<Result, 'limits'> = {
      startedAt: startedAt.toISOString(),
      command: `npm run loadtest -- ${argv.join(' ')}`.trim(),
      target: target.description,
      options: {
        users: options.users,
        durationS: options.durationS,
        seed: options.seed,
        ...(options.kill && { kill: options.kill }),
      },
      machine: {
        ...machine,
        note:
          process.env.LOADTEST_NOTE ??
          'Figures from one machine that also runs the load generator; anything else running on it competes for the same cores.',
      },
      setup: {
        seconds: setupSeconds,
        streams: world.streams.length,
        foundStreams: world.foundStreams,
        users: world.users.length,
        sourceAddresses: addresses.enabled,
      },
      phases,
      totals: {
        requests: recorder.requests,
        errors: recorder.errors,
        explainedErrors: recorder.explainedErrors,
        durationS,
        meanRate: durationS > 0 ? recorder.requests / durationS : 0,
        peakRate: Math.max(0, ...recorder.seconds.map((s) => s.requests)),
        holdRate: holdMean((s) => s.requests),
        holdUsers: holdMean((s) => s.activeUsers),
        ...(cpuMs !== undefined && httpRequests > 0 && { platformCpuMsPerRequest: cpuMs / httpRequests }),
        ...(sqlMs !== undefined && httpRequests > 0 && { sqlMsPerRequest: sqlMs / httpRequests }),
        users: {
          started: recorder.usersStarted,
          finished: recorder.usersFinished,
          failed: recorder.usersFailed,
          skipped: run.usersSkipped,
          stuck: run.stuckUsers,
          sharedPoolUsers: pool.shared,
        },
        ...(run.sessions && { sessions: run.sessions }),
        ...(run.totals.latency['*'] && { all: run.totals.latency['*'] }),
        ...(run.totals.latency[CHAT_DELIVERY] && { chatDelivery: run.totals.latency[CHAT_DELIVERY] }),
      },
      chat: chatUse,
      endpoints,
      errorAnswers: [...recorder.errorCodes]
        .map(([key, v]) => {
          const [endpoint = '', status = '', code = ''] = key.split('|');
          return { endpoint, status, code, count: v.count, message: v.message };
        })
        .sort((a, b) => b.count - a.count),
      seconds: recorder.seconds,
      periods: periodsRelative(run.periods, recorder.startedAt),
      degraded: {
        metrics: Object.fromEntries(degradedTotals(before, after)),
        seenByClients: Object.fromEntries(recorder.degradedSections),
        series: degradedSeries(scrapes),
      },
      backendCalls: Object.fromEntries(backendCalls(before, after)),
      sql: sqlPerRequest(before, after),
      platform: { samples, scraped },
      generator: watch.samples,
      ...(kill && { kill }),
      ledger,
      verdict,
    };
    const result: Result = { ...partial, limits: diagnose(partial) };
    await writeFile(files.json, JSON.stringify(result, null, 2));
    await writeReport(result, files);

    printSummary(result);
    log(`report: ${files.html}\n          chart: ${files.png}\n          data: ${files.json}`);
    return verdict.pass ? 0 : 1;
  } finally {
    await target.close();
  }
}

function printSummary(r: Result) {
  const pad = (s: string, w: number) => s.padEnd(w);
  const num = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–').padStart(8);
  console.log(
    `\n${pad('endpoint', 34)}${'requests'.padStart(9)}${'p50'.padStart(8)}${'p95'.padStart(8)}${'p99'.padStart(8)}  errors`,
  );
  for (const e of r.endpoints) {
    console.log(
      `${pad(e.endpoint, 34)}${String(e.count).padStart(9)}${num(e.p50)}${num(e.p95)}${num(e.p99)}  ${e.errors}`,
    );
  }
  console.log(
    `\nhold phase: ${r.totals.holdRate.toFixed(1)} req/s with ${Math.round(r.totals.holdUsers)} users online on average; ` +
      `all requests p50 ${r.totals.all?.p50} ms, p95 ${r.totals.all?.p95} ms, p99 ${r.totals.all?.p99} ms`,
  );
  console.log(`per public (BFF) request: backend calls · SQL statements = ${fanOut(r)}`);
  console.log(
    `SQL statements per request: ${r.sql.map((s) => `${s.service} ${s.perRequest?.toFixed(2) ?? '–'}`).join(', ') || 'not measured'}`,
  );
  const degraded = Object.entries(r.degraded.metrics).filter(([, v]) => v > 0);
  if (r.totals.chatDelivery) {
    const d = r.totals.chatDelivery;
    console.log(
      `chat fan-out delay (message → reader): p50 ${d.p50} ms, p95 ${d.p95} ms, p99 ${d.p99} ms over ${d.count} deliveries`,
    );
  }
  console.log(`degraded sections: ${degraded.map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  console.log(
    `ledger: ${r.ledger.checked ? (r.ledger.ok ? 'every invariant holds' : `${r.ledger.violations.length} violation(s)`) : `not checked (${r.ledger.reason})`}`,
  );
  console.log('\nwhat limited it:');
  for (const l of r.limits) console.log(`  - ${l}`);
  console.log(`\nverdict: ${r.verdict.pass ? 'PASS' : 'FAIL'}`);
  for (const c of r.verdict.checks)
    console.log(`  ${c.pass ? 'ok  ' : 'FAIL'} ${c.name}: ${c.actual} (limit ${c.limit})`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const unknownOption = (err as NodeJS.ErrnoException)?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
    if (err instanceof UsageError || unknownOption) console.error(`loadtest: ${(err as Error).message}\n\n${USAGE}`);
    else console.error('loadtest: failed:', err);
    process.exit(2);
  },
);
