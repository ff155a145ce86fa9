import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { sqlPerRequest, viewFailuresAfterKill } from '../src/analyze.ts';
import { lineChart, niceStep } from '../src/charts.ts';
import { explainedByKill, viewOf } from '../src/endpoints.ts';
import { phasesFor, random, UserPool, zipfPicker } from '../src/mix.ts';
import { parseDuration, parseOptions, UsageError } from '../src/options.ts';
import { parseMetrics, sumBy } from '../src/prometheus.ts';
import { Recorder } from '../src/recorder.ts';
import { judge, parseThresholds, type VerdictInput } from '../src/verdict.ts';

describe('options', () => {
  it('when a duration is written as minutes and seconds, then it is read as seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 0, max: 59 }), (m, s) => {
        expect(parseDuration(`${m}m${s}s`)).toBe(m * 60 + s);
        expect(parseDuration(`${m * 60 + s}s`)).toBe(m * 60 + s);
      }),
    );
    expect(parseDuration('90')).toBe(90);
  });

  it('when a duration or a kill is malformed, then it is a usage error naming the value', () => {
    expect(() => parseDuration('1h')).toThrow(UsageError);
    expect(() => parseDuration('')).toThrow(/not a duration/);
    expect(() => parseOptions(['--kill', 'user'])).toThrow(/SERVICE@TIME/);
    expect(() => parseOptions(['--kill', 'user@30s', '--target', 'http://127.0.0.1:8080'])).toThrow(/embedded/);
    expect(() => parseOptions(['--kill', 'user@90s', '--duration', '60s'])).toThrow(/after the run/);
    expect(() => parseOptions(['--users', '0'])).toThrow(/whole number/);
  });

  it('when nothing is given, then it loads the embedded platform with 100 users for 60 s', () => {
    const o = parseOptions([]);
    expect(o).toMatchObject({ target: undefined, users: 100, durationS: 60, kill: undefined });
  });
});

describe('the mix', () => {
  it('when phases are planned, then ramp up, hold and ramp down add up to the duration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 3600 }), fc.integer({ min: 1, max: 5000 }), (d, users) => {
        const p = phasesFor(users, d);
        expect(p.rampUpS + p.holdS + p.rampDownS).toBe(d);
        expect(p.holdS).toBeGreaterThan(0);
        expect(p.arrivalsPerS).toBeGreaterThan(0);
      }),
    );
  });

  it('when streams are picked, then the first (most popular) is picked most often', () => {
    const pick = zipfPicker(['a', 'b', 'c', 'd'], random(1));
    const counts: Record<string, number> = { a: 0, b: 0, c: 0, d: 0 };
    for (let i = 0; i < 4000; i++) counts[pick()]!++;
    expect(counts.a).toBeGreaterThan(counts.b!);
    expect(counts.b).toBeGreaterThan(counts.d!);
    expect(counts.d).toBeGreaterThan(0);
  });

  it('when supporters take pool users, then no user is handed out twice until given back', () => {
    const users = [1, 2, 3].map((i) => ({ id: `u${i}`, handle: `h${i}`, password: 'p', token: 't', tokenAt: 0 }));
    const pool = new UserPool(users);
    const taken = [pool.take(), pool.take(), pool.take()];
    expect(new Set(taken.map((t) => t.user.id)).size).toBe(3);
    expect(taken.every((t) => t.exclusive)).toBe(true);
    const fourth = pool.take();
    expect(fourth.exclusive).toBe(false);
    expect(pool.shared).toBe(1);
    pool.give(taken[0]!.user);
    expect(pool.take()).toEqual({ user: taken[0]!.user, exclusive: true });
  });
});

describe('a killed backend', () => {
  it('when a view needs the killed backend, then its failures are explained; when it only uses it optionally, not', () => {
    expect(explainedByKill('GET /web/v1/users/:id', 'user')).toBe(true);
    expect(explainedByKill('GET /web/v1/home', 'user')).toBe(false);
    expect(explainedByKill('GET /app/v1/streams/:id', 'stamp')).toBe(false);
    expect(explainedByKill('POST /streams/:id/stamps', 'stamp')).toBe(true);
    expect(explainedByKill('POST /streams/:id/stamps', undefined)).toBe(false);
    expect(viewOf('GET /app/v1/streams/:id')).toBe('stream');
    expect(viewOf('POST /auth/login')).toBeUndefined();
  });

  it('when views answer 5xx after the kill, then only those not requiring the killed backend count as failures', () => {
    const after = new Map([
      [
        'GET /web/v1/home',
        new Map([
          ['200', 10],
          ['503', 2],
        ]),
      ],
      ['GET /web/v1/users/:id', new Map([['503', 5]])],
      ['PUT /me/following/:userId', new Map([['503', 7]])],
      [
        'GET /app/v1/streams/:id',
        new Map([
          ['200', 3],
          ['504', 1],
        ]),
      ],
    ]);
    expect(viewFailuresAfterKill(after, 'user')).toBe(3);
    expect(viewFailuresAfterKill(after, 'contents')).toBe(2 + 5);
  });

  it('when errors arrive after a kill, then those of endpoints needing the killed backend are counted apart', () => {
    const r = new Recorder();
    r.record('GET /web/v1/home', 200);
    r.record('PUT /me/following/:userId', 503);
    expect(r.errors).toBe(1);
    r.killed = { service: 'user', at: Date.now() };
    r.record('PUT /me/following/:userId', 503);
    r.record('GET /web/v1/home', 503);
    r.record('GET /web/v1/home', 0, { code: 'ECONNRESET' });
    expect(r.errors).toBe(3);
    expect(r.explainedErrors).toBe(1);
    expect(r.statuses.get('GET /web/v1/home')).toEqual(
      new Map([
        ['200', 1],
        ['503', 1],
        ['ECONNRESET', 1],
      ]),
    );
    expect(r.statusesAfterKill.get('PUT /me/following/:userId')).toEqual(new Map([['503', 1]]));
  });
});

describe('metrics', () => {
  it('when prom-client exposes counters and histograms, then they are read back with their labels', async () => {
    const registry = new Registry();
    const q = new Counter({
      name: 'db_queries_total',
      help: 'h',
      labelNames: ['service', 'route'],
      registers: [registry],
    });
    const h = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'h',
      labelNames: ['route'],
      registers: [registry],
    });
    q.inc({ service: 'user', route: '/users/:id' }, 3);
    q.inc({ service: 'user', route: 'background' }, 5);
    h.observe({ route: '/users/:id' }, 0.01);
    h.observe({ route: '/users/:id' }, 0.02);
    const before = { user: parseMetrics(await registry.metrics()) };
    q.inc({ service: 'user', route: '/users/:id' }, 4);
    q.inc({ service: 'user', route: '/users' }, 1);
    h.observe({ route: '/users/:id' }, 0.01);
    h.observe({ route: '/users/:id' }, 0.01);
    h.observe({ route: '/users' }, 0.01);
    const after = { user: parseMetrics(await registry.metrics()) };
    expect(sumBy(after.user, 'db_queries_total', 'route').get('/users/:id')).toBe(7);
    const [row] = sqlPerRequest(before, after);
    expect(row).toMatchObject({ service: 'user', requests: 3, statements: 5, background: 0 });
    expect(row!.routes.find((r) => r.route === '/users/:id')).toMatchObject({
      requests: 2,
      statements: 4,
      perRequest: 2,
    });
  });

  it('when a label value has escapes, then it is unescaped', () => {
    const [s] = parseMetrics('m{a="x\\"y",b="1"} 2.5\n# HELP m h\n');
    expect(s).toEqual({ name: 'm', labels: { a: 'x"y', b: '1' }, value: 2.5 });
  });
});

describe('the verdict', () => {
  const t = parseThresholds(
    'latency:\n  p99Ms: 250\n  endpoints:\n    POST /auth/login: { p99Ms: 500 }\nerrorRate: 0.001\n',
  );
  const ok = {
    p99: { '*': 100, 'POST /auth/login': 400 },
    requests: 10_000,
    errors: 9,
    ledger: { checked: true as const, violations: 0 },
  };

  it('when everything is under its threshold, then it passes', () => {
    expect(judge(t, ok).pass).toBe(true);
  });

  it('when any one check is over, then it fails and says which', () => {
    const cases: VerdictInput[] = [
      { ...ok, p99: { '*': 250 } },
      { ...ok, p99: { 'POST /auth/login': 501 } },
      { ...ok, errors: 10 },
      { ...ok, requests: 0, errors: 0 },
      { ...ok, ledger: { checked: true as const, violations: 1 } },
      { ...ok, ledger: { checked: false as const, reason: 'no key' } },
      { ...ok, kill: { service: 'user', viewFailures: 1 } },
    ];
    for (const c of cases) {
      const v = judge(t, c);
      expect(v.pass).toBe(false);
      expect(v.checks.filter((x) => !x.pass)).toHaveLength(1);
    }
  });

  it('when a threshold is not a number, then reading the file names the key', () => {
    expect(() => parseThresholds('latency:\n  p99Ms: fast\n')).toThrow(/latency.p99Ms/);
    expect(() => parseThresholds('latency:\n  endpoints:\n    GET /x: {}\n')).toThrow(/GET \/x needs p99Ms/);
    expect(parseThresholds('')).toMatchObject({ errorRate: 0.001, latency: { p99Ms: 250 } });
  });
});

describe('charts', () => {
  it('when the axis is scaled, then steps are 1, 2 or 5 × a power of ten and give at most ~2× the ticks asked', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 1e7, noNaN: true }), (max) => {
        const step = niceStep(max, 5);
        const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
        expect([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-6)).toBe(true);
        expect(max / step).toBeLessThanOrEqual(10.0001);
      }),
    );
  });

  it('when series are drawn, then the SVG has one path per series, escapes names and shows markers', () => {
    const svg = lineChart({
      title: 'a <title>',
      yLabel: 'ms',
      series: [
        {
          name: 'p99 & more',
          points: [
            [0, 1],
            [1, 5],
            [2, 3],
          ],
        },
        { name: 'empty', points: [] },
      ],
      markers: [{ x: 1, label: 'user killed' }],
    });
    expect(svg.match(/<path /g)).toHaveLength(1);
    expect(svg).toContain('p99 &amp; more');
    expect(svg).toContain('a &lt;title&gt;');
    expect(svg).toContain('user killed');
  });
});
