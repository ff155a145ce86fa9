import { createOutboxTable } from '@livehouse/kit';
import { type Kysely, sql } from 'kysely';

/** The schema the WithSchemaPlugin qualifies tables with: raw SQL below must name it itself. */
function schemaOf(db: Kysely<unknown>) {
  const compiled = db
    .selectFrom('accounts' as never)
    .selectAll()
    .compile().sql;
  const match = /from "([^"]+)"\."accounts"/.exec(compiled);
  if (!match?.[1]) throw new Error('point migrations need a schema-qualified database');
  return match[1];
}

export async function up(db: Kysely<unknown>) {
  const schema = schemaOf(db);

  await db.schema
    .createTable('accounts')
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('shard', 'int2', (c) => c.notNull().check(sql`shard >= 0`))
    .addColumn('system', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('balance', 'int8', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('accounts_pk', ['owner', 'shard'])
    // The last line of defence: the service never lets a user account go below zero by itself.
    .addCheckConstraint('accounts_user_balance_not_negative', sql`system or balance >= 0`)
    .execute();

  await db.schema
    .createTable('transfers')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('purchase', 'spend', 'refund', 'sweep')`))
    .addColumn('from_user', 'uuid')
    .addColumn('to_user', 'uuid')
    .addColumn('amount', 'int8', (c) => c.notNull().check(sql`amount > 0`))
    .addColumn('fee', 'int8', (c) => c.notNull().defaultTo(0).check(sql`fee >= 0 and fee <= amount`))
    .addColumn('reason', 'text')
    .addColumn('reference', 'text')
    .addColumn('payment_id', 'text', (c) => c.unique())
    // At most one refund per transfer, whatever races the service loses.
    .addColumn('refund_of', 'uuid', (c) => c.unique().references('transfers.id'))
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('postings')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('transfer_id', 'uuid', (c) => c.notNull().references('transfers.id'))
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('shard', 'int2', (c) => c.notNull())
    .addColumn('amount', 'int8', (c) => c.notNull().check(sql`amount <> 0`))
    .execute();
  await db.schema.createIndex('postings_transfer_idx').on('postings').column('transfer_id').execute();

  await db.schema
    .createTable('entries')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('transfer_id', 'uuid', (c) => c.notNull().references('transfers.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('amount', 'int8', (c) => c.notNull())
    .addColumn('fee', 'int8', (c) => c.notNull().defaultTo(0))
    .addColumn('counterparty_id', 'uuid')
    .addColumn('reason', 'text')
    .addColumn('reference', 'text')
    .addColumn('refund_of', 'uuid')
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // History pages newest first by id: one index range scan per page.
  await db.schema.createIndex('entries_user_idx').on('entries').columns(['user_id', 'id desc']).execute();

  await db.schema
    .createTable('payments')
    .addColumn('payment_id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('amount', 'int8', (c) => c.notNull().check(sql`amount > 0`))
    .addColumn('transfer_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('status', 'int2')
    .addColumn('response', 'jsonb')
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['scope', 'key'])
    .execute();
  // For a later pruning job (keys are kept at least 24 h).
  await db.schema.createIndex('idempotency_keys_created_idx').on('idempotency_keys').column('created_at').execute();

  await createOutboxTable(db);

  // Postings, transfers, entries and payments are never updated or deleted, by anyone.
  const forbid = sql.id(schema, 'forbid_change');
  await sql`create function ${forbid}() returns trigger language plpgsql as $$
    begin
      raise exception '%.% is append-only', tg_table_schema, tg_table_name using errcode = 'restrict_violation';
    end $$`.execute(db);
  for (const table of ['transfers', 'postings', 'entries', 'payments']) {
    const target = sql.id(schema, table);
    await sql`create trigger ${sql.id(`${table}_append_only`)} before update or delete on ${target}
      for each row execute function ${forbid}()`.execute(db);
    await sql`create trigger ${sql.id(`${table}_no_truncate`)} before truncate on ${target}
      for each statement execute function ${forbid}()`.execute(db);
  }
}
