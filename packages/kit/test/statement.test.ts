import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestContext } from '../src/context.ts';
import { createDatabase } from '../src/db/database.ts';
import { statement } from '../src/db/statement.ts';
import { dbKinds, openTestBackend, type TestBackend } from '../src/testing.ts';

interface Db {
  items: { id: number; owner: string; qty: number };
}

const byOwner = statement(
  'test.byOwner',
  (db: Kysely<Db>, a: { owner: string; min?: number | undefined; rows: number }) => {
    let q = db.selectFrom('items').select(['id', 'qty']).where('owner', '=', a.owner).orderBy('id').limit(a.rows);
    if (a.min !== undefined) q = q.where('qty', '>=', a.min);
    return q;
  },
);
const byIds = statement('test.byIds', (db: Kysely<Db>, a: { ids: readonly number[] }) =>
  db
    .selectFrom('items')
    .select('id')
    .where('id', '=', (eb) => eb.fn.any(eb.val(a.ids)))
    .orderBy('id'),
);
const all = statement('test.all', (db: Kysely<Db>, a: { owner: string }) =>
  db.selectFrom('items').selectAll().where('owner', '=', a.owner),
);
const insert = statement('test.insert', (db: Kysely<Db>, a: { rows: { id: number; owner: string; qty: number }[] }) =>
  db.insertInto('items').values(a.rows),
);

describe.each(dbKinds)('compiled statements on %s', (kind) => {
  let t: TestBackend;
  let one: Kysely<Db>;
  let two: Kysely<Db>;
  beforeAll(async () => {
    t = await openTestBackend(kind);
    const make = async (schema: string) => {
      const { db } = createDatabase<Db>(t.backend, { service: schema, schema: `${t.schemaPrefix}${schema}` });
      await db.schema.createSchema(`${t.schemaPrefix}${schema}`).execute();
      await db.schema
        .createTable('items')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('owner', 'text')
        .addColumn('qty', 'integer')
        .execute();
      return db;
    };
    one = await make('stmt_one');
    two = await make('stmt_two');
  });
  afterAll(() => t?.close());

  it('when the same statement runs in two schemas and in several shapes, then each gets its own rows', async () => {
    await insert.execute(one, { rows: [{ id: 1, owner: 'a', qty: 5 }] });
    await insert.execute(one, {
      rows: [
        { id: 2, owner: 'a', qty: 1 },
        { id: 3, owner: 'b', qty: 9 },
      ],
    });
    await insert.execute(two, { rows: [{ id: 1, owner: 'a', qty: 7 }] });
    expect(await byOwner.rows(one, { owner: 'a', rows: 10 })).toEqual([
      { id: 1, qty: 5 },
      { id: 2, qty: 1 },
    ]);
    expect(await byOwner.rows(one, { owner: 'a', min: 2, rows: 10 })).toEqual([{ id: 1, qty: 5 }]);
    expect(await byOwner.rows(one, { owner: 'a', rows: 1 })).toEqual([{ id: 1, qty: 5 }]);
    expect(await byOwner.rows(two, { owner: 'a', rows: 10 })).toEqual([{ id: 1, qty: 7 }]);
    expect(await byIds.rows(one, { ids: [3, 1, 42] })).toEqual([{ id: 1 }, { id: 3 }]);
    expect(await byIds.rows(one, { ids: [] })).toEqual([]);
    expect(byIds.compile(one, { ids: [1, 2, 3] }).sql).toBe(byIds.compile(one, { ids: [1] }).sql);
    expect(byOwner.compile(two, { owner: 'a', rows: 1 }).sql).toContain('stmt_two"."items"');
  });

  it('when a statement runs inside a transaction and a request, then it is counted like any query', async () => {
    const ctx = { requestId: 'r', traceparent: undefined, route: 'test', deadline: undefined, queries: 0 };
    await requestContext.run(ctx, () =>
      one.transaction().execute(async (trx) => {
        await byOwner.first(trx, { owner: 'b', rows: 1 });
        await sql`select 1`.execute(trx);
      }),
    );
    expect(ctx.queries).toBe(2);
  });

  it.runIf(kind === 'postgres')(
    'when a compiled statement runs on PostgreSQL, then its connection prepared it once, by name',
    async () => {
      const names = await one.transaction().execute(async (trx) => {
        await byOwner.first(trx, { owner: 'a', rows: 3 });
        await byOwner.first(trx, { owner: 'b', rows: 3 });
        await all.first(trx, { owner: 'a' });
        return (
          await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(
            trx,
          )
        ).rows;
      });
      const mine = names.filter((n) => n.statement === byOwner.compile(one, { owner: 'a', rows: 3 }).sql);
      expect(mine).toHaveLength(1);
      expect(mine[0]?.name).toMatch(/^lh_/);
      // A `*` is not prepared: a column added by a migration would break its cached plan.
      expect(names.filter((n) => n.statement === all.compile(one, { owner: 'a' }).sql)).toEqual([]);
    },
  );

  it('when a build function computes with an argument, then the first use throws instead of compiling a constant', () => {
    const wrong = statement('test.wrong', (db: Kysely<Db>, a: { rows: number }) =>
      db
        .selectFrom('items')
        .select('id')
        .limit(a.rows + 1),
    );
    expect(() => wrong.compile(one, { rows: 1 })).toThrow(/computed with at build time/);
    const wrongText = statement('test.wrongText', (db: Kysely<Db>, a: { owner: string }) =>
      db.selectFrom('items').select('id').where('owner', '=', `debt:${a.owner}`),
    );
    expect(() => wrongText.compile(one, { owner: 'a' })).toThrow(/computed with at build time/);
  });
});
