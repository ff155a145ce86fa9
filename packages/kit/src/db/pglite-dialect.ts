import { createHash } from 'node:crypto';
import { type PGlite, parse, protocol, type Results } from '@electric-sql/pglite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

/**
 * PGlite is one PostgreSQL session. Every Kysely instance sharing it (one per service in
 * `livehouse up`) must take turns, and a transaction must hold the session from BEGIN to COMMIT,
 * or another service's statements would run inside it. This lock is that turn.
 */
export class SessionLock {
  #tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = resolve;
    });
    const acquired = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => next);
    return acquired;
  }
}

export interface SharedPGlite {
  pg: PGlite;
  lock: SessionLock;
  /** Statements this session has prepared, by SQL text: their name and parameter types (oldest first). */
  prepared: Map<string, { name: string; paramTypes: number[] }>;
}

const { serialize } = protocol;
const NO_SYNC = { syncToFs: false } as const;
/** Runs one batch of protocol messages; PGlite throws the first database error once the batch has run to its Sync. */
const send = (pg: PGlite, ...messages: Uint8Array[]) => pg.execProtocolStream(Buffer.concat(messages), NO_SYNC);

/** Prepared statements a session keeps; past that the oldest is closed (texts of varying shape must not grow it). */
const MAX_PREPARED = 1000;
/** A prepared `*` would fail ("cached plan must not change result type") once a migration adds a column. */
const STAR_RESULT = /"\.\*|select \*|returning \*/i;

/**
 * One statement as few protocol batches as its parameters allow. PGlite's query() sends parse, describe,
 * bind, describe, execute and sync as six separate calls into the WebAssembly backend (each a run of its
 * main loop and a flush) and parses and plans the text every time: most of the CPU of a short statement.
 * Its execProtocolStream() runs several messages in one call, so a statement with parameters is prepared
 * once per session (its text never changes, only its values: Kysely's SQL) and then runs as bind,
 * describe, execute and sync in one call. Values are serialised as query() does it, by the parameter
 * types the server described. The file system needs no sync per statement: PGlite's node and memory
 * file systems write through (their syncToFs does nothing).
 */
async function run(shared: SharedPGlite, sql: string, params: readonly unknown[]): Promise<Results<unknown>> {
  const { pg } = shared;
  // What query() would say; execProtocolStream does not check.
  if (pg.closed) throw new Error('PGlite is closed');
  // Without parameters (begin, commit, DDL): the unnamed statement, all in one batch.
  if (params.length === 0) return execute(pg, '', [], params, serialize.parse({ text: sql }));
  if (STAR_RESULT.test(sql)) return execute(pg, '', await describe(pg, '', sql), params);
  let prepared = shared.prepared.get(sql);
  if (!prepared) {
    if (shared.prepared.size >= MAX_PREPARED) {
      const [oldestSql, oldest] = shared.prepared.entries().next().value as [string, { name: string }];
      shared.prepared.delete(oldestSql);
      await send(pg, serialize.close({ type: 'S', name: oldest.name }), serialize.sync());
    }
    const name = `lh_${createHash('sha256').update(sql).digest('base64url').slice(0, 22)}`;
    prepared = { name, paramTypes: await describe(pg, name, sql) };
    shared.prepared.set(sql, prepared);
  }
  return execute(pg, prepared.name, prepared.paramTypes, params);
}

/** Parses `sql` as statement `name` and returns the types of its parameters, in one batch. */
async function describe(pg: PGlite, name: string, sql: string): Promise<number[]> {
  const messages = await send(
    pg,
    serialize.parse({ name, text: sql }),
    serialize.describe({ type: 'S', name }),
    serialize.sync(),
  );
  return parse.parseDescribeStatementResults(messages);
}

async function execute(
  pg: PGlite,
  statement: string,
  paramTypes: readonly number[],
  params: readonly unknown[],
  ...before: Uint8Array[]
): Promise<Results<unknown>> {
  const values = params.map((param, i) => {
    if (param === null || param === undefined) return null;
    const serializer = pg.serializers[paramTypes[i] ?? 0];
    return serializer ? serializer(param) : String(param);
  });
  const messages = await send(
    pg,
    ...before,
    serialize.bind({ statement, values }),
    serialize.describe({ type: 'P' }),
    serialize.execute({}),
    serialize.sync(),
  );
  return parse.parseResults(messages, pg.parsers)[0] as Results<unknown>;
}

class PGliteConnection implements DatabaseConnection {
  readonly #shared: SharedPGlite;
  readonly release: () => void;

  constructor(shared: SharedPGlite, release: () => void) {
    this.#shared = shared;
    this.release = release;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = (await run(this.#shared, query.sql, query.parameters)) as Results<R>;
    return {
      rows: result.rows,
      ...(result.affectedRows !== undefined && { numAffectedRows: BigInt(result.affectedRows) }),
    };
  }

  // biome-ignore lint/correctness/useYield: streaming is not supported; fail loudly
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGlite dialect does not support streaming');
  }
}

class PGliteDriver implements Driver {
  readonly #shared: SharedPGlite;

  constructor(shared: SharedPGlite) {
    this.#shared = shared;
  }

  async init() {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.#shared.lock.acquire();
    return new PGliteConnection(this.#shared, release);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    const isolation = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await connection.executeQuery(CompiledQuery.raw(`begin${isolation}`));
  }

  async commitTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection) {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection) {
    (connection as PGliteConnection).release();
  }

  async destroy() {}
}

export class PGliteDialect implements Dialect {
  readonly #shared: SharedPGlite;

  constructor(shared: SharedPGlite) {
    this.#shared = shared;
  }

  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.#shared);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own signature
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new PostgresIntrospector(db);
  }
}
