import { type Generated, type Kysely, sql, type Transaction } from 'kysely';
import { createDatabase, type DatabaseBackend } from '../../src/db/database.ts';
import { createProcessedEventsTable, type ProcessedEventsDatabase } from '../../src/events/consumer.ts';
import { createOutboxTable, type OutboxDatabase, writeEvent } from '../../src/outbox.ts';

/** What the test consumer writes: one row per applied event, in the order applied. */
export interface ConsumerDatabase extends ProcessedEventsDatabase {
  applied: { pos: Generated<number>; key: string; n: number; event_id: string };
}

export function openSchemas(backend: DatabaseBackend, prefix: string) {
  return {
    producer: createDatabase<OutboxDatabase>(backend, { service: 'producer', schema: `${prefix}producer` }),
    consumer: createDatabase<ConsumerDatabase>(backend, { service: 'consumer', schema: `${prefix}consumer` }),
  };
}

export async function createSchemas(schemas: ReturnType<typeof openSchemas>) {
  for (const { db, schema } of [schemas.producer, schemas.consumer]) {
    await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db);
    await sql`create schema ${sql.id(schema)}`.execute(db);
  }
  await createOutboxTable(schemas.producer.db as Kysely<unknown>);
  await createProcessedEventsTable(schemas.consumer.db as Kysely<unknown>);
  await schemas.consumer.db.schema
    .createTable('applied')
    .addColumn('pos', 'bigserial', (c) => c.primaryKey())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('n', 'integer', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .execute();
}

/** Event `n` of `key`: keys are followers, n counts up per key, so order per key is checkable. */
export async function produce(db: Kysely<OutboxDatabase>, key: string, n: number) {
  await db
    .transaction()
    .execute((trx) => writeEvent(trx, 'user.followed', key, { followerId: key, followeeId: String(n) }));
}

export const handlers = {
  'user.followed': async (
    trx: Transaction<ConsumerDatabase>,
    event: { id: string; key: string; data: { followeeId: string } },
  ) => {
    await trx
      .insertInto('applied')
      .values({ key: event.key, n: Number(event.data.followeeId), event_id: event.id })
      .execute();
  },
};

/** Per key, the n values in the order they were applied. */
export async function appliedByKey(db: Kysely<ConsumerDatabase>) {
  const rows = await db.selectFrom('applied').select(['key', 'n']).orderBy('pos').execute();
  const byKey = new Map<string, number[]>();
  for (const r of rows) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.n]);
  return { total: rows.length, byKey };
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
