import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inject } from 'vitest';
import { type DatabaseBackend, openBackend, openPGlite } from './db/database.ts';
import type { EventBus } from './events/bus.ts';
import { InternalAuth } from './internal-auth.ts';
import { type AnyServiceDefinition, generateDevSecrets, type Platform, startPlatform } from './platform.ts';
import { freePort } from './testing/ports.ts';

/** Parsed JSON of a test response: loosely typed on purpose, tests assert its shape. */
// biome-ignore lint/suspicious/noExplicitAny: test-only convenience
export type TestBody = any;

export type DbKind = 'pglite' | 'postgres';

/** The databases every database test runs on: PGlite always, PostgreSQL when reachable (required in CI). */
export const dbKinds: DbKind[] = inject('postgresUrl') ? ['pglite', 'postgres'] : ['pglite'];

export const redisUrl = inject('redisUrl');

export interface TestBackend {
  backend: DatabaseBackend;
  /** Unique per test file on PostgreSQL, so parallel files never share a schema. */
  schemaPrefix: string;
  close(): Promise<void>;
}

export async function openTestBackend(kind: DbKind): Promise<TestBackend> {
  if (kind === 'pglite') {
    const snapshot = new Blob([await readFile(inject('pgliteSnapshot'))]);
    const backend = await openPGlite('memory://', snapshot);
    return { backend, schemaPrefix: '', close: () => backend.close() };
  }
  const url = inject('postgresUrl');
  if (!url) throw new Error('PostgreSQL is not reachable');
  // Tests pile hundreds of requests onto one row at once (a wallet, a counter) on a machine that may be running
  // two suites: a connection can be minutes away there, and production's 5-s wait would turn that into 503s.
  const backend = await openBackend(url, { poolSize: 20, poolWaitMs: 120_000 });
  const schemaPrefix = `t${randomBytes(4).toString('hex')}_`;
  return {
    backend,
    schemaPrefix,
    async close() {
      const { Kysely, sql } = await import('kysely');
      const db = new Kysely<unknown>({ dialect: backend.dialect() });
      const { rows } = await sql<{ nspname: string }>`
        select nspname from pg_namespace where nspname like ${`${schemaPrefix}%`}`.execute(db);
      for (const { nspname } of rows) await sql`drop schema ${sql.id(nspname)} cascade`.execute(db);
      await backend.close();
    },
  };
}

export interface TestPlatform extends Platform {
  backend: TestBackend;
  secrets: Record<string, string>;
  /** An internal token as `service` would send it, on behalf of `user` when given. */
  token(service: string, user?: { id: string; roles?: ('viewer' | 'streamer' | 'admin')[] }): Promise<string>;
  /** Calls a service's API port over real HTTP with an internal token. */
  call(
    name: string,
    method: string,
    path: string,
    options?: {
      body?: unknown;
      as?: string;
      user?: { id: string; roles?: ('viewer' | 'streamer' | 'admin')[] };
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; body: TestBody; headers: Headers }>;
}

type Section = Record<string, unknown>;
const isSection = (v: unknown): v is Section => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `own` over `wired`, one level deep: a test's `http: { trustProxy }` keeps the port wired for it. */
function overlay(wired: Section, own: Section): Section {
  const out: Section = { ...wired };
  for (const [key, value] of Object.entries(own)) {
    const under = out[key];
    out[key] = isSection(under) && isSection(value) ? { ...under, ...value } : value;
  }
  return out;
}

/**
 * Starts services on a test database, on free loopback ports, quiet unless LIVEHOUSE_TEST_LOG is set.
 * With payment, the embedded (local) provider delivers its signed webhooks to the BFF, as in `livehouse up`:
 * the BFF's port is picked before anything starts (payment starts first), or given as `bffPort` when the
 * BFF runs in another platform.
 */
export async function startTestPlatform(
  defs: readonly AnyServiceDefinition[],
  kind: DbKind,
  options: {
    config?: (name: string) => Record<string, unknown>;
    /** The event bus the services share (e.g. a RedisEventBus); in-process when absent. */
    bus?: EventBus;
    /** Outbox relays poll this often (default 20 ms in tests). */
    relayPollMs?: number;
    /** Where a BFF started outside this platform listens: payment's webhooks go there. */
    bffPort?: number;
  } = {},
): Promise<TestPlatform> {
  const names = new Set(defs.map((d) => d.name));
  const bffPort = options.bffPort ?? (names.has('bff') ? await freePort() : undefined);
  const wired = (name: string): Section => {
    if (name === 'bff' && names.has('bff')) return { http: { host: '127.0.0.1', port: bffPort, adminPort: 0 } };
    if (name === 'payment' && bffPort !== undefined) {
      return { payment: { provider: 'local', local: { webhookUrl: `http://127.0.0.1:${bffPort}/webhooks/stripe` } } };
    }
    return {};
  };
  const backend = await openTestBackend(kind);
  const secrets = generateDevSecrets();
  const level = process.env.LIVEHOUSE_TEST_LOG ?? 'silent';
  let platform: Platform;
  try {
    platform = await startPlatform(defs, {
      backend: backend.backend,
      env: secrets,
      schemaPrefix: backend.schemaPrefix,
      config: (name) => overlay({ log: { level }, ...wired(name) }, options.config?.(name) ?? {}),
      relay: { pollMs: options.relayPollMs ?? 20 },
      ...(options.bus && { bus: options.bus }),
    });
  } catch (err) {
    await backend.close();
    throw err;
  }
  const auth = new InternalAuth(secrets.LIVEHOUSE_INTERNAL_KEY as string);
  const token: TestPlatform['token'] = (service, user) =>
    auth.sign({ service, ...(user && { user: { id: user.id, roles: user.roles ?? ['viewer'] } }) });
  return {
    ...platform,
    backend,
    secrets,
    token,
    async call(name, method, path, opts = {}) {
      const headers: Record<string, string> = {
        authorization: `Bearer ${await token(opts.as ?? 'bff', opts.user)}`,
        ...opts.headers,
      };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(platform.url(name) + path, {
        method,
        headers,
        ...(opts.body !== undefined && { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async close() {
      await platform.close();
      await backend.close();
    },
  };
}

/** A response of the public API: loosely typed on purpose, tests assert its shape. */
export interface PublicResponse {
  status: number;
  headers: Headers;
  body: TestBody;
}

/** A small HTTP client for the public API under `base` (e.g. the BFF's `…/web/v1`). */
export function publicApi(base: string) {
  return async (
    method: string,
    path: string,
    options: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ): Promise<PublicResponse> => {
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(options.body !== undefined && { 'content-type': 'application/json' }),
        ...(options.token && { authorization: `Bearer ${options.token}` }),
        ...options.headers,
      },
      ...(options.body !== undefined && {
        body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
      }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
}

/**
 * Buys a points pack the way a client does, through the BFF at `bffUrl`: opens a checkout, pays it at the
 * provider's page (the embedded local provider, or a fake of Stripe), whose signed webhook credits the points.
 */
export async function buyPoints(
  bffUrl: string,
  token: string,
  packId: string,
  idempotencyKey: string,
): Promise<{ id: string; points: number }> {
  const api = publicApi(`${bffUrl}/web/v1`);
  const checkout = await api('POST', '/me/points/checkouts', {
    token,
    headers: { 'idempotency-key': idempotencyKey },
    body: { packId },
  });
  if (checkout.status !== 201) throw new Error(`checkout: ${checkout.status} ${JSON.stringify(checkout.body)}`);
  const paid = await fetch(checkout.body.url as string, { method: 'POST' });
  const answer = (await paid.json()) as { webhook?: { status: number } };
  if (answer.webhook?.status !== 200) throw new Error(`pay: ${paid.status} ${JSON.stringify(answer)}`);
  return checkout.body;
}
