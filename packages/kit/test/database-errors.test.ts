import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { toAppError } from '../src/errors.ts';
import { serializeError } from '../src/logger.ts';
import { freePort } from '../src/testing/ports.ts';
import { dbKinds, openTestBackend, type TestBackend } from '../src/testing.ts';

// The net under validation: a value the database cannot hold is the caller's fault (400), not ours (500).
describe.each(dbKinds)('database errors on %s', (kind) => {
  let t: TestBackend;
  let db: Kysely<unknown>;
  beforeAll(async () => {
    t = await openTestBackend(kind);
    db = new Kysely<unknown>({ dialect: t.backend.dialect() });
  });
  afterAll(() => t?.close());

  it('when a text parameter holds a NUL, then the error becomes 400 validation_failed', async () => {
    const err = await sql`select ${'a\u0000b'}::text as v`.execute(db).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expect([toAppError(err).status, toAppError(err).code]).toEqual([400, 'validation_failed']);
  });

  it('when the statement itself is wrong, then it stays a 500', async () => {
    const err = await sql`select * from no_such_table_here`.execute(db).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(toAppError(err).status).toBe(500);
  });

  it('when a database error is logged, then its code is there and no SQL value is', async () => {
    const secret = 'sk_live_do-not-log-me';
    const err = await sql`select ${secret}::int as v`.execute(db).then(
      () => undefined,
      (e: unknown) => e,
    );
    const logged = JSON.stringify(serializeError(err));
    expect(logged).toContain('"code":"22P02"');
    expect(logged).not.toContain(secret);
    expect(logged).not.toContain('select');
  });
});

// A database that is down is the service being unavailable (503, retry later), not a bug of ours (500).
const postgresUrl = inject('postgresUrl');

describe.runIf(postgresUrl)('an unreachable database', () => {
  it('when no connection can be made, then the error becomes 503 service_unavailable with Retry-After', async () => {
    const port = await freePort();
    const db = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ host: '127.0.0.1', port, user: 'postgres' }) }),
    });
    const err = await sql`select 1`.execute(db).then(
      () => undefined,
      (e: unknown) => e,
    );
    await db.destroy();
    const e = toAppError(err);
    expect([e.status, e.code, e.headers?.['retry-after']]).toEqual([503, 'service_unavailable', '1']);
  });

  it('when the server ends the session mid-query, then the error becomes 503 too', async () => {
    const url = postgresUrl as string;
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    const pid = ((await client.query('select pg_backend_pid() as pid')).rows[0] as { pid: number }).pid;
    const dba = new pg.Client({ connectionString: url });
    await dba.connect();
    const sleeping = client.query('select pg_sleep(30)').then(
      () => undefined,
      (e: unknown) => e,
    );
    await dba.query('select pg_terminate_backend($1)', [pid]);
    await dba.end();
    const err = await sleeping;
    await client.end().catch(() => {});
    expect(toAppError(err).status, String(err)).toBe(503);
  });
});
