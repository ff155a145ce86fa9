import type { Result } from './result.ts';

const mean = (xs: number[]) => (xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length);
const pct = (x: number | undefined) => (x === undefined ? '?' : `${Math.round(x)} %`);

/**
 * Plain sentences on what held the run back, from the samples of the hold phase: the platform's
 * event loop, its one PGlite session, the CPU of the machine, or the load generator itself.
 */
export function diagnose(r: Omit<Result, 'limits'>): string[] {
  const from = r.phases.rampUpS;
  const to = r.phases.rampUpS + r.phases.holdS;
  const inHold = <T extends { t: number }>(xs: T[]) => xs.filter((x) => x.t >= from && x.t <= to);
  const out: string[] = [];

  const ps = inHold(r.platform.samples);
  const elu = mean(ps.map((s) => s.eventLoop.utilization * 100));
  const cpu = mean(ps.map((s) => s.cpuPercent));
  const lag = mean(ps.map((s) => s.eventLoop.delayP99Ms));
  const sqlShare = mean(ps.map((s) => s.db?.sqlPercent ?? 0));
  const held = mean(ps.map((s) => s.db?.sessionHeldPercent ?? 0));
  const wait = mean(ps.map((s) => s.db?.lockWaitP99Ms ?? 0));
  if (ps.length > 0) {
    out.push(
      `Platform process (all services in one Node.js process, as 'livehouse up' runs them): its event loop was busy ${pct(elu)} ` +
        `of the hold phase, CPU ${pct(cpu)} of one core, event-loop delay p99 ${lag?.toFixed(1)} ms on average.`,
    );
    if (ps.some((s) => s.db)) {
      out.push(
        `PGlite (PostgreSQL in WebAssembly, on that same thread): running SQL took ${pct(sqlShare)} of the time, and the one ` +
          `database session was held ${pct(held)} of the time (statements and open transactions of every service take turns; ` +
          `p99 wait for it ${wait?.toFixed(1)} ms on average).`,
      );
    }
    // Busy by the event loop's clock but not on a CPU: the thread was ready and waited for a core.
    const starved = mean(ps.map((s) => Math.max(0, s.eventLoop.utilization * 100 - s.cpuPercent))) ?? 0;
    if (starved > 15) {
      out.push(
        `Limit: CPU starvation. For ${pct(starved)} of the wall-clock time the platform's event loop had work but its thread was not on a CPU ` +
          `(event loop busy ${pct(elu)}, CPU only ${pct(cpu)} of a core): other processes — the load generator among them — held the cores. Latencies, timeouts and the ` +
          'wall-clock SQL share above measure the contention of the machine more than livehouse.',
      );
    } else if ((elu ?? 0) > 85) {
      out.push(
        (held ?? 0) > 60
          ? 'Limit: the platform process is saturated, and most of its time is the embedded database: one PGlite session serializes all SQL. Run with --db postgres://… (or deploy) to take the database off that thread.'
          : 'Limit: the platform process is saturated (one event loop does the HTTP, JSON and service logic of every service). More load only adds queueing; deploy services as separate processes to scale.',
      );
    } else if ((held ?? 0) > 80) {
      out.push(
        'Limit: the one PGlite session: requests wait for their turn at the database although the event loop has time left.',
      );
    } else {
      out.push(`The platform was not saturated at this load (event loop ${pct(elu)} busy): it can take more users.`);
    }
  } else if (r.platform.scraped.length > 0) {
    const scraped = inHold(r.platform.scraped);
    out.push(
      `Platform (from its /metrics): CPU ${pct(mean(scraped.flatMap((s) => (s.cpuPercent === undefined ? [] : [s.cpuPercent]))))} ` +
        `of one core, event-loop lag p99 ${mean(scraped.flatMap((s) => (s.lagP99Ms === undefined ? [] : [s.lagP99Ms])))?.toFixed(1) ?? '?'} ms on average during the hold.`,
    );
  } else {
    out.push('The platform process could not be observed (no admin port reachable): limits unknown on its side.');
  }

  const cost = r.totals.platformCpuMsPerRequest;
  if (cost !== undefined && cost > 0) {
    out.push(
      `Cost per HTTP request (holds whatever else runs): ${cost.toFixed(1)} ms of platform CPU` +
        (r.totals.sqlMsPerRequest !== undefined
          ? ` and ${r.totals.sqlMsPerRequest.toFixed(1)} ms of PGlite running SQL (wall clock, on the same thread)`
          : '') +
        `. At that cost, one core to itself would top out near ${Math.round(1000 / cost)} req/s for this mix (one event loop runs the JavaScript of every service, and PGlite when embedded, on at most one core).`,
    );
  }

  const inRequests = r.sql.reduce((n, x) => n + x.statements, 0);
  const background = r.sql.reduce((n, x) => n + x.background, 0);
  if (background > 0 && background / (background + inRequests) > 0.25) {
    const top = [...r.sql].sort((a, b) => b.background - a.background).slice(0, 3);
    out.push(
      `${pct((background / (background + inRequests)) * 100)} of all SQL statements ran outside requests ` +
        `(${top.map((x) => `${x.service} ${x.background}`).join(', ')}: outbox relays polling, consumers)` +
        (ps.some((x) => x.db) ? '; on PGlite they take turns with the requests at the one session.' : '.'),
    );
  }

  const gen = inHold(r.generator);
  const machine = mean(gen.flatMap((g) => (g.machineCpuPercent === undefined ? [] : [g.machineCpuPercent])));
  const genElu = mean(gen.map((g) => g.generatorLoopUtilization * 100));
  const genCpu = mean(gen.map((g) => g.generatorCpuPercent));
  const load = mean(gen.map((g) => g.loadAverage));
  const pressure = mean(gen.flatMap((g) => (g.cpuPressurePercent === undefined ? [] : [g.cpuPressurePercent])));
  out.push(
    `Machine: ${r.machine.cores} cores ${pct(machine)} busy on average (all processes; load average ${load?.toFixed(1)}). ` +
      (pressure !== undefined
        ? `CPU pressure ${pct(pressure)}: share of the time some task was ready but waited for a core. `
        : '') +
      `Load generator (artillery's engine in this process): CPU ${pct(genCpu)} of one core, event loop ${pct(genElu)} busy.`,
  );
  // Both processes stalling in the same second: the cause is outside both (other processes, the VM).
  const genBySecond = new Map(r.generator.map((g) => [Math.round(g.t), g]));
  const stalls = r.platform.samples.filter(
    (s) => s.eventLoop.delayMaxMs > 200 && (genBySecond.get(Math.round(s.t))?.generatorLoopDelayP99Ms ?? 0) > 200,
  );
  if (stalls.length > 0) {
    out.push(
      `Machine-wide stalls: in ${stalls.length} second(s) (at ${stalls
        .slice(0, 6)
        .map((s) => `${Math.round(s.t)} s`)
        .join(
          ', ',
        )}${stalls.length > 6 ? ', …' : ''}) the platform and the load generator — two processes — both stalled over 200 ms at once: ` +
        'the cause is outside both of them. Timeouts and degraded sections at those moments come from the machine.',
    );
  }
  if ((machine ?? 0) > 90) {
    out.push(
      'Limit: the machine’s CPUs were nearly all busy (the platform, the load generator and whatever else runs here): latencies include waiting for a core.',
    );
  }
  if ((genElu ?? 0) > 80) {
    out.push(
      'Caution: the load generator’s own event loop was nearly saturated: measured latencies include its own queueing, so the platform is likely faster than shown.',
    );
  }
  if (r.totals.users.stuck > 0) {
    out.push(
      `${r.totals.users.stuck} sessions had not ended 90 s after the last arrival and were cut off: the run ended without them (a bug of the mix or a hung connection).`,
    );
  }
  if (r.totals.users.skipped > 0) {
    out.push(`${r.totals.users.skipped} arrivals were skipped (artillery's maxVusers).`);
  }
  if (r.totals.users.sharedPoolUsers > 0) {
    out.push(
      `${r.totals.users.sharedPoolUsers} supporter sessions had to share a pool user (the pool was exhausted); free-stamp rate limits may then answer 429.`,
    );
  }
  return out;
}
