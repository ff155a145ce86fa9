import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/database.ts';
import type { SharedPGlite } from '../src/db/pglite-dialect.ts';
import { statement } from '../src/db/statement.ts';
import { openTestBackend, type TestBackend } from '../src/testing.ts';

interface Db {
  things: { id: number; tags: string[]; doc: unknown; at: Date; ok: boolean; note: string | null };
}

const insertThing = statement(
  'test.pglite.insertThing',
  (db: Kysely<Db>, a: { id: number; tags: string[]; doc: string; at: Date; ok: boolean; note: string | null }) =>
    db.insertInto('things').values(a).returning(['id', 'tags', 'doc', 'at', 'ok', 'note']),
);
const byId = statement('test.pglite.byId', (db: Kysely<Db>, a: { id: number }) =>
  db.selectFrom('things').select(['id', 'tags', 'doc', 'at', 'ok', 'note']).where('id', '=', a.id),
);

// The dialect runs statements as batches of protocol messages (prepared once per session when compiled);
// what a caller sees must be what PGlite's own query() gives.
describe('the PGlite dialect', () => {
  let t: TestBackend;
  let db: Kysely<Db>;
  let shared: SharedPGlite;
  beforeAll(async () => {
    t = await openTestBackend('pglite');
    shared = (t.backend as typeof t.backend & { shared: SharedPGlite }).shared;
    db = createDatabase<Db>(t.backend, { service: 'pglite_dialect', schema: 'pglite_dialect' }).db;
    await db.schema.createSchema('pglite_dialect').execute();
    await db.schema
      .createTable('things')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('tags', sql`text[]`, (c) => c.notNull())
      .addColumn('doc', 'jsonb', (c) => c.notNull())
      .addColumn('at', 'timestamptz', (c) => c.notNull())
      .addColumn('ok', 'boolean', (c) => c.notNull())
      .addColumn('note', 'text')
      .execute();
  });
  afterAll(() => t?.close());

  const at = new Date('2026-01-02T03:04:05.678Z');

  it('when a compiled statement runs twice, then the session prepared it once and both runs answer as query() does', async () => {
    const first = await insertThing.first(db, {
      id: 1,
      tags: ['a', 'b,c'],
      doc: '{"k":[1]}',
      at,
      ok: true,
      note: null,
    });
    const again = await byId.first(db, { id: 1 });
    await byId.first(db, { id: 1 });
    const plain = await shared.pg.query(
      'select id, tags, doc, at, ok, note from pglite_dialect.things where id = $1',
      [1],
    );
    expect(first).toEqual({ id: 1, tags: ['a', 'b,c'], doc: { k: [1] }, at, ok: true, note: null });
    expect(again).toEqual(plain.rows[0]);
    const prepared = await shared.pg.query<{ n: number }>(
      'select count(*)::int as n from pg_prepared_statements where statement = $1',
      [byId.compile(db, { id: 1 }).sql],
    );
    expect(prepared.rows[0]?.n).toBe(1);
  });

  it('when SQL with parameters is not a compiled statement, then it is prepared too, except a result of *', async () => {
    const count = async (text: string) =>
      (
        await shared.pg.query<{ n: number }>(
          'select count(*)::int as n from pg_prepared_statements where statement = $1',
          [text],
        )
      ).rows[0]?.n;
    await sql`select id from pglite_dialect.things where id = ${1}`.execute(db);
    await sql`select * from pglite_dialect.things where id = ${1}`.execute(db);
    expect(await count('select id from pglite_dialect.things where id = $1')).toBe(1);
    expect(await count('select * from pglite_dialect.things where id = $1')).toBe(0);
  });

  it('when more texts are prepared than the session keeps, then the oldest are closed and still run', async () => {
    const texts = 1100;
    for (let i = 0; i < texts; i++) await sql`select ${i}::int + ${sql.lit(i)} as n`.execute(db);
    const kept = await shared.pg.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements');
    expect(kept.rows[0]?.n).toBeLessThanOrEqual(1000);
    expect((await sql<{ n: number }>`select ${1}::int + ${sql.lit(0)} as n`.execute(db)).rows).toEqual([{ n: 1 }]);
  });

  it('when SQL with parameters is not a compiled statement, then values are serialised by their described types', async () => {
    await sql`insert into pglite_dialect.things (id, tags, doc, at, ok, note)
      values (${2}, ${['x']}, ${JSON.stringify({ n: 2 })}, ${at}, ${false}, ${"it's"})`.execute(db);
    const { rows } = await sql<{ id: number }>`select id from pglite_dialect.things
      where tags = ${['x']} and doc = ${JSON.stringify({ n: 2 })}::jsonb and at = ${at} and ok = ${false}`.execute(db);
    expect(rows).toEqual([{ id: 2 }]);
  });

  it('when a statement fails, then the error carries its SQLSTATE and the session goes on', async () => {
    const duplicate = await insertThing.execute(db, { id: 1, tags: [], doc: '{}', at, ok: true, note: null }).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    expect(duplicate?.code).toBe('23505');
    const syntax = await sql`select from from`.execute(db).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    expect(syntax?.code).toBe('42601');
    // Several statements in one text are refused, as by query() (the extended protocol).
    await expect(sql`select 1; select 2`.execute(db)).rejects.toThrow();
    expect((await byId.first(db, { id: 1 }))?.id).toBe(1);
  });

  it('when a transaction fails half-way, then it rolls back and counts affected rows as before', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await insertThing.execute(trx, { id: 3, tags: [], doc: '{}', at, ok: true, note: null });
        await insertThing.execute(trx, { id: 3, tags: [], doc: '{}', at, ok: true, note: null });
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await byId.first(db, { id: 3 })).toBeUndefined();
    const updated = await db.updateTable('things').set({ ok: true }).where('id', 'in', [1, 2]).executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(2n);
  });
});
