import { randomUUID } from 'node:crypto';
import { type BuiltService, buildService, generateDevSecrets, listen, parseConfig } from '@livehouse/kit';
import type { TestBody, TestPlatform } from '@livehouse/kit/testing';
import type { FaultMode } from '@livehouse/kit/testing/fault-proxy';
import { LocalProvider } from '@livehouse/payment';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Fleet, startFleet } from '../../../../bench/lib/fleet.ts';
import { bffService } from '../../src/index.ts';
import { assertContractHeld, contractChecked } from '../contract-check.ts';
import { buildWorld, publicApi, type World } from '../helpers.ts';

/**
 * Fault injection with the backends as separate processes (`livehouse serve`), a fault proxy in
 * front of each, and the BFF (in this process) calling them through the proxies. For each backend
 * and each fault: the BFF answers within its budget with fallbacks and the degraded list, or 503
 * where a required section depends on the backend, never 500; the breaker opens; once the backend
 * is healthy again the breaker closes and full answers come back.
 */

const BUDGET_MS = 800;
/** Scheduling slack on a shared two-core machine. */
const MARGIN_MS = Number(process.env.LIVEHOUSE_FAULT_MARGIN_MS ?? 250);
const HALF_OPEN_AFTER_MS = 150;
/** Calls without a section timeout of their own (commands) wait this long (bff.backends.<name>.timeoutMs). */
const COMMAND_TIMEOUT_MS = 1000;
/** Longer than every section's timeout (≤ 300 ms), the budget and a command's timeout. */
const SLOW_MS = 1500;
const FAULTS: Exclude<FaultMode, 'pass'>[] = ['down', 'blackhole', 'http500', 'malformed', 'slow'];
/** Every backend the BFF calls: all run, as separate processes. */
const BACKENDS = [...bffService.dependsOn];
/** Backends no view section or HTTP command calls (chat is a WebSocket relay): started, not faulted here. */
const NOT_IN_VIEWS = ['chat'];
const FAULTED = BACKENDS.filter((b) => !NOT_IN_VIEWS.includes(b));

type Expect =
  /** 200 with exactly `degraded` listed, plus any of `mayDegrade` (public sections with a fresh cache call nothing). */
  | { status: 200; degraded: string[]; mayDegrade?: string[]; check?: (body: TestBody) => void }
  /** 503 service_unavailable: a required section's backend is failing. */
  | { status: 503 }
  /** A command passed to the failing backend: 502, 503 or 504 in the error format. */
  | { status: 'upstream' };

interface Probe {
  name: string;
  method?: 'GET' | 'POST';
  client: 'app' | 'web';
  path: string;
  token?: string;
  body?: () => unknown;
  headers?: () => Record<string, string>;
  /** Views answer within the request budget; commands within their backend's timeout. */
  limitMs: number;
  faulty: Expect;
  /** Status when healthy (views also: nothing degraded). */
  healthy: number;
}

let fleet: Fleet;
let stripe: LocalProvider;
let bff: BuiltService;
let bffUrl: string;
let w: World;
/** Slowest faulty answer and time to full answers per case; printed with LIVEHOUSE_FAULT_REPORT=1. */
const report: Record<string, { slowestMs: number; rounds: number; recoveredMs?: number }> = {};
const reportOf = (label: string) => {
  report[label] ??= { slowestMs: 0, rounds: 0 };
  return report[label];
};

function probesFor(backend: string): Probe[] {
  const view = (name: string, client: 'app' | 'web', path: string, faulty: Expect, token?: string): Probe => ({
    name,
    client,
    path,
    ...(token && { token }),
    limitMs: BUDGET_MS,
    faulty,
    healthy: 200,
  });
  const command = (name: string, path: string, body: () => unknown, extra: Partial<Probe> = {}): Probe => ({
    name,
    method: 'POST',
    client: 'web',
    path,
    body,
    limitMs: COMMAND_TIMEOUT_MS,
    faulty: { status: 'upstream' },
    healthy: 200,
    ...extra,
  });
  const viewer = w.viewer.token;
  switch (backend) {
    case 'user':
      return [
        view(
          'app home',
          'app',
          '/home',
          {
            status: 200,
            degraded: ['following', 'streamers'],
            check: (b) => {
              expect(b.followingLive).toEqual([]);
              expect(b.liveNow[0]).toMatchObject({ id: w.streamId, streamer: null });
            },
          },
          viewer,
        ),
        view(
          'web stream',
          'web',
          `/streams/${w.streamId}`,
          {
            status: 200,
            degraded: ['streamer', 'supporterProfiles', 'viewerFollows'],
            check: (b) =>
              expect([b.stream.streamer, b.viewerFollows, b.topSupporters[0].user]).toEqual([null, false, null]),
          },
          viewer,
        ),
        view('web channel', 'web', `/channels/${w.channelId}`, { status: 200, degraded: ['streamer'] }),
        view('app profile', 'app', `/users/${w.streamer.id}`, { status: 503 }, viewer),
      ];
    case 'contents':
      return [
        // liveNow and featured are public: a fresh cached value calls nothing, a stale one is served while contents fails.
        view(
          'app home',
          'app',
          '/home',
          {
            status: 200,
            degraded: [],
            mayDegrade: ['featured', 'liveNow'],
            check: (b) => expect(b.liveNow[0]).toMatchObject({ id: w.streamId, streamer: 'streamer1' }),
          },
          viewer,
        ),
        view('web stream', 'web', `/streams/${w.streamId}`, { status: 503 }),
        view('web channel', 'web', `/channels/${w.channelId}`, { status: 503 }),
        view(
          'app profile',
          'app',
          `/users/${w.streamer.id}`,
          {
            status: 200,
            degraded: ['channel'],
            check: (b) => expect([b.channelId, b.profile.handle]).toEqual([null, 'streamer1']),
          },
          viewer,
        ),
      ];
    case 'stamp':
      return [
        view(
          'web stream',
          'web',
          `/streams/${w.streamId}`,
          {
            status: 200,
            degraded: ['supporters'],
            mayDegrade: ['catalog'],
            check: (b) => expect([b.topSupporters, b.stream.streamer.handle]).toEqual([[], 'streamer1']),
          },
          viewer,
        ),
        view('app home', 'app', '/home', { status: 200, degraded: [], mayDegrade: ['catalogVersion'] }),
      ];
    case 'point':
      return [
        view(
          'app home',
          'app',
          '/home',
          {
            status: 200,
            degraded: ['wallet'],
            check: (b) => expect([b.balance, b.followingLive.length]).toEqual([null, 1]),
          },
          viewer,
        ),
        view(
          'web stream',
          'web',
          `/streams/${w.streamId}`,
          {
            status: 200,
            degraded: ['wallet'],
            check: (b) => expect(b.wallet).toBeNull(),
          },
          viewer,
        ),
      ];
    case 'payment':
      return [
        command('open a checkout', '/me/points/checkouts', () => ({ packId: 'p100' }), {
          token: viewer,
          headers: () => ({ 'idempotency-key': randomUUID() }),
          healthy: 201,
        }),
      ];
    case 'auth': {
      const login = () => ({ login: 'viewer1', password: 'long-enough-secret' });
      return [
        // Access tokens are verified against the cached key set: views do not need auth.
        view('app home', 'app', '/home', { status: 200, degraded: [] }, viewer),
        command('log in', '/auth/login', login),
        command('log in again', '/auth/login', login),
      ];
    }
    case 'timeline':
      return [
        view(
          'app home',
          'app',
          '/home',
          {
            status: 200,
            degraded: ['timeline'],
            check: (b) => expect([b.timeline, b.balance > 0]).toEqual([[], true]),
          },
          viewer,
        ),
        view('app home (anonymous)', 'app', '/home', { status: 200, degraded: [] }),
      ];
    default:
      throw new Error(`no probes for ${backend}: add them when the BFF calls a new backend`);
  }
}

async function send(p: Probe) {
  const api = publicApi(`${bffUrl}/${p.client}/v1`);
  const started = performance.now();
  const res = await api(p.method ?? 'GET', p.path, {
    ...(p.token && { token: p.token }),
    ...(p.body && { body: p.body() }),
    ...(p.headers && { headers: p.headers() }),
  });
  return { ...res, ms: performance.now() - started };
}

/** One request of every probe, at once; asserts what a failing backend must give. */
async function faultyRound(backend: string, label: string) {
  const probes = probesFor(backend);
  const answers = await Promise.all(probes.map(send));
  const entry = reportOf(label.split(',')[0]!);
  entry.rounds++;
  for (const [i, p] of probes.entries()) {
    const a = answers[i]!;
    entry.slowestMs = Math.max(entry.slowestMs, Math.round(a.ms));
    const where = `${label}: ${p.name} answered ${a.status} in ${Math.round(a.ms)} ms: ${JSON.stringify(a.body).slice(0, 300)}`;
    expect(a.status, where).not.toBe(500);
    expect(a.ms, where).toBeLessThan(p.limitMs + MARGIN_MS);
    const e = p.faulty;
    if (e.status === 200) {
      expect(a.status, where).toBe(200);
      const degraded = a.body.meta.degraded as string[];
      expect(
        degraded.filter((d) => !e.mayDegrade?.includes(d)),
        where,
      ).toEqual(e.degraded);
      expect(a.headers.get('livehouse-degraded') ?? '', where).toBe(degraded.join(','));
      // A partial view is never cached nor validated: the next request may be whole.
      if (degraded.length > 0) {
        expect(a.headers.get('cache-control'), where).toBe('no-store');
        expect(a.headers.get('etag'), where).toBeNull();
      }
      e.check?.(a.body);
    } else {
      if (e.status === 503) expect(a.status, where).toBe(503);
      else expect([502, 503, 504], where).toContain(a.status);
      expect(a.body.error, where).toMatchObject({
        code: expect.stringMatching(/^(service_unavailable|upstream_error|upstream_timeout)$/),
        message: expect.any(String),
        requestId: expect.any(String),
      });
      if (e.status === 503) expect(a.body.error.code, where).toBe('service_unavailable');
    }
  }
}

async function allHealthy(backend: string) {
  const probes = probesFor(backend);
  const answers = await Promise.all(probes.map(send));
  const sick = probes
    .map((p, i) => ({ p, a: answers[i]! }))
    .filter(({ p, a }) => a.status !== p.healthy || (a.body?.meta && a.body.meta.degraded.length > 0))
    .map(({ p, a }) => `${p.name}: ${a.status} ${JSON.stringify(a.body?.meta ?? a.body?.error)}`);
  return sick;
}

async function breaker(backend: string) {
  const metric = await bff.metrics.registry.getSingleMetric('backend_breaker_state')?.get();
  const value = metric?.values.find((v) => v.labels.backend === backend)?.value;
  return value === 0 ? 'closed' : value === 1 ? 'half-open' : value === 2 ? 'open' : 'unknown';
}

/** Faulty rounds until the breaker has opened (each round asserting the degraded answers). */
async function failUntilOpen(backend: string, label: string) {
  for (let round = 1; round <= 6; round++) {
    await faultyRound(backend, `${label}, round ${round}`);
    if ((await breaker(backend)) === 'open') return;
  }
  expect.fail(`${label}: the ${backend} breaker never opened`);
}

/** After healing: full answers within a few half-open periods, and the breaker closed. */
async function expectRecovery(backend: string, label: string, withinMs = 5000) {
  const healedAt = Date.now();
  let sick: string[] = [];
  while (Date.now() - healedAt < withinMs) {
    await new Promise((r) => setTimeout(r, 50));
    sick = await allHealthy(backend);
    if (sick.length === 0) break;
  }
  expect(sick, `${label}: still degraded ${Date.now() - healedAt} ms after healing`).toEqual([]);
  reportOf(label).recoveredMs = Date.now() - healedAt;
  expect(await breaker(backend)).toBe('closed');
}

describe('bff under backend faults (backends as separate processes)', () => {
  beforeAll(async () => {
    const started = Date.now();
    // payment runs as in production (provider stripe), against a fake of Stripe's API in this process.
    const secrets: Record<string, string> = { ...generateDevSecrets(), LIVEHOUSE_STRIPE_API_KEY: 'sk_test_faults' };
    stripe = new LocalProvider({
      host: '127.0.0.1',
      port: 0,
      apiKey: 'sk_test_faults',
      webhookSecret: secrets.LIVEHOUSE_STRIPE_WEBHOOK_SECRET as string,
      webhookUrl: 'http://127.0.0.1:9/unset',
    });
    const fakeStripe = await stripe.listen();
    const postgresUrl = inject('postgresUrl');
    fleet = await startFleet({
      names: BACKENDS,
      secrets,
      ...(postgresUrl ? { databaseUrl: postgresUrl } : { pgliteSnapshot: inject('pgliteSnapshot') }),
      poolSize: 4,
      logLevel: process.env.LIVEHOUSE_TEST_LOG ?? 'fatal',
      config: (name) =>
        name === 'payment'
          ? { payment: { api: { host: fakeStripe.host, port: fakeStripe.port, protocol: 'http' } } }
          : name === 'auth'
            ? {
                auth: {
                  passwordHashing: { memoryCostKiB: 4096, timeCost: 1 },
                  loginRateLimit: { perIp: { max: 10_000, windowMs: 60_000 } },
                },
              }
            : {},
    });
    const config = parseConfig(
      {
        http: { host: '127.0.0.1', port: 0, adminPort: 0 },
        services: fleet.proxied(),
        log: { level: process.env.LIVEHOUSE_TEST_LOG ?? 'silent' },
        bff: {
          requestBudgetMs: BUDGET_MS,
          backends: Object.fromEntries(
            BACKENDS.map((b) => [
              b,
              { timeoutMs: COMMAND_TIMEOUT_MS, halfOpenAfterMs: HALF_OPEN_AFTER_MS, breakerFailures: 3 },
            ]),
          ),
          rateLimit: { perIp: { max: 100_000 }, perUser: { max: 100_000 } },
          // The contract check reads the document the BFF serves.
          docs: true,
        },
      },
      bffService.config,
      { source: 'bff (fault tests)', env: secrets },
    );
    bff = await buildService(contractChecked(bffService), config);
    bffUrl = (await listen(bff, config.http)).apiUrl;
    stripe.webhookUrl = `${bffUrl}/webhooks/stripe`;
    w = await buildWorld({ url: () => bffUrl } as unknown as TestPlatform);
    // Cold processes answer slowly at first: wait for full answers before faulting anything.
    for (const backend of FAULTED) await expectRecovery(backend, `${backend} at start`, 30_000);
    report['start-up (processes, world)'] = { slowestMs: Date.now() - started, rounds: 0 };
  }, 180_000);

  afterAll(async () => {
    if (process.env.LIVEHOUSE_FAULT_REPORT) console.table(report);
    await bff?.close();
    await fleet?.close();
    assertContractHeld();
    await stripe?.close();
  });

  for (const backend of FAULTED) {
    for (const fault of FAULTS) {
      it(`when ${backend} is ${fault}, then the BFF answers in budget with fallbacks or 503, and recovers once it heals`, async () => {
        const { proxy } = fleet.backends.get(backend)!;
        await proxy.set(fault, { delayMs: SLOW_MS });
        try {
          await failUntilOpen(backend, `${backend} ${fault}`);
        } finally {
          await proxy.set('pass');
        }
        await expectRecovery(backend, `${backend} ${fault}`);
      });
    }
  }

  it('when the stamp process is killed for real, then the stream page degrades; once it is back, full answers return', async () => {
    const stamp = fleet.backends.get('stamp')!.process;
    await stamp.kill();
    try {
      await failUntilOpen('stamp', 'stamp killed');
    } finally {
      stamp.start();
      await stamp.ready();
    }
    await expectRecovery('stamp', 'stamp killed');
  });
});
