import { randomUUID } from 'node:crypto';
import type { EventData, EventType } from '@livehouse/contracts';
import { type ColumnType, type Generated, type Kysely, sql, type Transaction } from 'kysely';
import { statement } from './db/statement.ts';

/** The outbox table every event-producing service has in its own schema. */
export interface OutboxTable {
  /** Publication order within the service. */
  seq: Generated<number>;
  event_id: string;
  type: string;
  /** Events with the same key are delivered in order (e.g. a stream id). */
  key: string;
  data: ColumnType<unknown, string, never>;
  occurred_at: ColumnType<Date, never, never>;
  published_at: ColumnType<Date | null, never, Date>;
}

export interface OutboxDatabase {
  outbox: OutboxTable;
}

/** Use in a service's migration. */
export async function createOutboxTable(db: Kysely<unknown>) {
  await db.schema
    .createTable('outbox')
    .addColumn('seq', 'bigserial', (c) => c.primaryKey())
    .addColumn('event_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('data', 'jsonb', (c) => c.notNull())
    .addColumn('occurred_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('published_at', 'timestamptz(3)')
    .execute();
  // The relay reads unpublished rows in order; published ones are pruned later.
  await db.schema
    .createIndex('outbox_unpublished_idx')
    .on('outbox')
    .column('seq')
    .where(sql.ref('published_at'), 'is', null)
    .execute();
}

/** The channel every outbox insert notifies, with its schema as the payload. */
export const OUTBOX_CHANNEL = 'livehouse_outbox';

/**
 * A statement-level trigger that notifies the relays when rows enter the outbox: NOTIFY is delivered at commit,
 * so relays sleep until there is work instead of polling (polls were 40–58% of embedded PGlite's statements).
 * Installed by the migrator for every schema with an outbox, existing ones included; idempotent.
 */
export async function ensureOutboxNotify(db: Kysely<unknown>, schema: string) {
  const state = async () => {
    const { rows } = await sql<{ table: string | null; trigger: boolean }>`
      select to_regclass(format('%I.outbox', ${schema}::text))::text as table,
        exists (select 1 from pg_trigger where tgname = 'livehouse_outbox_notify'
                and tgrelid = to_regclass(format('%I.outbox', ${schema}::text))) as trigger`.execute(db);
    return { table: rows[0]?.table ?? null, trigger: rows[0]?.trigger === true };
  };
  const before = await state();
  if (!before.table || before.trigger) return;
  const fn = sql.id(schema, 'livehouse_outbox_notify');
  try {
    await sql`create or replace function ${fn}() returns trigger language plpgsql as $$
      begin perform pg_notify(${sql.lit(OUTBOX_CHANNEL)}, tg_table_schema); return null; end $$`.execute(db);
    await sql`create or replace trigger livehouse_outbox_notify after insert on ${sql.id(schema, 'outbox')}
      for each statement execute function ${fn}()`.execute(db);
  } catch (err) {
    // Another pod migrating the same schema at the same moment ("tuple concurrently updated"): it installed it.
    if (!(await state()).trigger) throw err;
  }
}

/**
 * Records an event in the same transaction as the change it describes: it is published
 * if and only if that change commits. Returns the event id.
 */
const insertEvent = statement(
  'kit.writeEvent',
  (db: Kysely<OutboxDatabase>, a: { event_id: string; type: string; key: string; data: string }) =>
    db.insertInto('outbox').values(a),
  { event_id: '00000000-0000-4000-8000-000000000000', type: 'points.spent', key: 'u1', data: '{}' },
);

export async function writeEvent<T extends EventType>(
  // biome-ignore lint/suspicious/noExplicitAny: any service database that has an outbox table
  trx: Transaction<any>,
  type: T,
  key: string,
  data: EventData<T>,
): Promise<string> {
  const eventId = randomUUID();
  await insertEvent.execute(trx as unknown as Kysely<OutboxDatabase>, {
    event_id: eventId,
    type,
    key,
    data: JSON.stringify(data),
  });
  return eventId;
}
