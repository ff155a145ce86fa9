import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>) {
  await db.schema
    .createTable('checkouts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('request_key', 'text', (c) => c.notNull())
    .addColumn('pack_id', 'text', (c) => c.notNull())
    .addColumn('points', 'int8', (c) => c.notNull().check(sql`points > 0`))
    .addColumn('price', 'int8', (c) => c.notNull().check(sql`price > 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('open', 'paid', 'expired')`))
    .addColumn('payment_intent', 'text', (c) => c.unique())
    .addColumn('transfer_id', 'uuid', (c) => c.unique())
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('checkouts_request_key', ['user_id', 'request_key'])
    .execute();

  await db.schema
    .createTable('webhook_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('payment_intent', 'text')
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('applied_at', 'timestamptz(3)')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('webhook_events_intent_idx').on('webhook_events').column('payment_intent').execute();

  await db.schema
    .createTable('refunds')
    .addColumn('charge_id', 'text', (c) => c.primaryKey())
    .addColumn('payment_intent', 'text', (c) => c.notNull())
    .addColumn('amount_refunded', 'int8', (c) => c.notNull())
    .addColumn('reference', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('refunds_intent_idx').on('refunds').column('payment_intent').execute();

  await db.schema
    .createTable('disputes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('payment_intent', 'text', (c) => c.notNull())
    .addColumn('amount', 'int8', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('disputes_intent_idx').on('disputes').column('payment_intent').execute();

  await db.schema
    .createTable('reversals')
    .addColumn('payment_intent', 'text', (c) => c.notNull())
    .addColumn('total', 'int8', (c) => c.notNull())
    .addColumn('transfer_id', 'uuid')
    .addColumn('reference', 'text', (c) => c.notNull())
    .addColumn('cause', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('reversals_pk', ['payment_intent', 'total'])
    .execute();
}
