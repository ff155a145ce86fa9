import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toAppError } from '../src/errors.ts';
import { serializeError } from '../src/logger.ts';
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
