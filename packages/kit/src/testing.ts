import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inject } from 'vitest';
import { type DatabaseBackend, openBackend, openPGlite } from './db/database.ts';
import type { EventBus } from './events/bus.ts';
import { InternalAuth } from './internal-auth.ts';
import { type AnyServiceDefinition, generateDevSecrets, type Platform, startPlatform } from './platform.ts';

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
  const backend = await openBackend(url, { poolSize: 20 });
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

/** Starts services on a test database, on free loopback ports, quiet unless LIVEHOUSE_TEST_LOG is set. */
export async function startTestPlatform(
  defs: readonly AnyServiceDefinition[],
  kind: DbKind,
  options: {
    config?: (name: string) => Record<string, unknown>;
    /** The event bus the services share (e.g. a RedisEventBus); in-process when absent. */
    bus?: EventBus;
    /** Outbox relays poll this often (default 20 ms in tests). */
    relayPollMs?: number;
  } = {},
): Promise<TestPlatform> {
  const backend = await openTestBackend(kind);
  const secrets = generateDevSecrets();
  const level = process.env.LIVEHOUSE_TEST_LOG ?? 'silent';
  let platform: Platform;
  try {
    platform = await startPlatform(defs, {
      backend: backend.backend,
      env: secrets,
      schemaPrefix: backend.schemaPrefix,
      config: (name) => ({ log: { level }, ...options.config?.(name) }),
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
