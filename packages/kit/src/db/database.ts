import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import {
  type Dialect,
  Kysely,
  type PluginTransformResultArgs,
  PostgresDialect,
  type QueryResult,
  type UnknownRow,
  WithSchemaPlugin,
} from 'kysely';
import pg from 'pg';
import { requestContext } from '../context.ts';
import type { Metrics } from '../metrics.ts';
import { type Notifier, PGliteNotifier, PostgresNotifier } from './notify.ts';
import { PGliteDialect, SessionLock, type SharedPGlite } from './pglite-dialect.ts';
import { preparedName } from './statement.ts';

/**
 * Where the data lives: a PostgreSQL server (through a `pg` pool) or an embedded PGlite.
 * One backend may serve several services, each in its own schema.
 */
export interface DatabaseBackend {
  kind: 'postgres' | 'pglite';
  dialect(): Dialect;
  /** LISTEN/NOTIFY on this backend (wakes the outbox relays). */
  notifier: Notifier;
  close(): Promise<void>;
}

const INT8 = 20;
// Counts and points are int8 in SQL; they stay far below 2^53, so plain numbers are exact.
const toNumber = (v: string) => Number(v);

/** The SQLSTATE of a database error (e.g. '23505' unique violation, '23503' foreign key), if it is one. */
export function pgErrorCode(err: unknown): string | undefined {
  return (err as { code?: string } | undefined)?.code;
}

export function isPostgresUrl(url: string) {
  return /^postgres(ql)?:\/\//.test(url);
}

export async function openBackend(
  url: string,
  options: { poolSize?: number; poolWaitMs?: number; loadDataDir?: Blob } = {},
) {
  if (isPostgresUrl(url)) return openPostgres(url, options.poolSize ?? 10, options.poolWaitMs ?? 5000);
  return openPGlite(url, options.loadDataDir);
}

function openPostgres(url: string, poolSize: number, poolWaitMs: number): DatabaseBackend {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: poolWaitMs,
    idleTimeoutMillis: 30000,
    types: { getTypeParser: (oid, format) => (oid === INT8 ? toNumber : pg.types.getTypeParser(oid, format)) },
    Client: PreparingClient,
  });
  // A connection that dies must never crash the process: the query in hand rejects where it is awaited, and the
  // pool drops the client (idle: the pool's 'error'; checked out, e.g. mid-transaction: the client's own 'error',
  // which pg-pool leaves unhandled while it is lent out).
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const notifier = new PostgresNotifier(url);
  return {
    kind: 'postgres',
    dialect: () => new PostgresDialect({ pool }),
    notifier,
    close: async () => {
      await notifier.close();
      await pool.end();
    },
  };
}

/**
 * A pg client that runs compiled statements (statement.ts) as named prepared statements: each
 * connection parses and plans one once, later executions only bind. Kysely's driver calls
 * `query(text, values)`; any other SQL runs as before (unnamed). A prepared plan is re-planned by
 * the server when a table it reads changes (DDL), and no pooler sits in front of PostgreSQL here
 * that would lose session state between statements.
 */
class PreparingClient extends pg.Client {
  // biome-ignore lint/suspicious/noExplicitAny: pg's overloaded query signature
  override query(...args: any[]): any {
    const [text, values] = args;
    if (typeof text === 'string' && Array.isArray(values) && args.length === 2) {
      const name = preparedName(text);
      if (name) return super.query({ name, text, values });
    }
    // biome-ignore lint/suspicious/noExplicitAny: pg's overloaded query signature
    return (super.query as (...a: any[]) => any)(...args);
  }
}

/** `memory://` keeps everything in memory; anything else is a data folder. */
export async function openPGlite(url: string, loadDataDir?: Blob): Promise<DatabaseBackend & { shared: SharedPGlite }> {
  const dataDir = url === 'memory://' ? undefined : url.replace(/^file:\/\//, '');
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create({
    ...(dataDir && { dataDir }),
    ...(loadDataDir && { loadDataDir }),
    parsers: { [INT8]: toNumber },
  });
  const shared: SharedPGlite = { pg: pglite, lock: new SessionLock(), prepared: new Map() };
  const notifier = new PGliteNotifier(pglite, shared.lock);
  return {
    kind: 'pglite',
    shared,
    dialect: () => new PGliteDialect(shared),
    notifier,
    close: async () => {
      await notifier.close();
      await pglite.close();
    },
  };
}

/**
 * Qualifies every table with the service's schema and counts every executed statement, per service
 * and per route (through the request context). One plugin, not two: Kysely awaits each plugin's
 * `transformResult` on every statement.
 */
class ServiceSchemaPlugin extends WithSchemaPlugin {
  readonly #service: string;
  readonly #metrics: Metrics | undefined;

  constructor(schema: string, service: string, metrics: Metrics | undefined) {
    super(schema);
    this.#service = service;
    this.#metrics = metrics;
  }

  override async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const ctx = requestContext.getStore();
    if (ctx) ctx.queries++;
    this.#metrics?.dbQueries.inc({ service: this.#service, route: ctx?.route ?? 'background' });
    return args.result;
  }
}

export interface Database<DB> {
  db: Kysely<DB>;
  schema: string;
  kind: DatabaseBackend['kind'];
  /** The backend's dialect, for the migrator's own Kysely instance. */
  dialect: Dialect;
  notifier: Notifier;
}

/** A Kysely instance whose every table reference is qualified with the service's schema. */
export function createDatabase<DB>(
  backend: DatabaseBackend,
  options: { service: string; schema: string; metrics?: Metrics },
): Database<DB> {
  const dialect = backend.dialect();
  const db = new Kysely<DB>({
    dialect,
    plugins: [new ServiceSchemaPlugin(options.schema, options.service, options.metrics)],
  });
  return { db, schema: options.schema, kind: backend.kind, dialect, notifier: backend.notifier };
}
