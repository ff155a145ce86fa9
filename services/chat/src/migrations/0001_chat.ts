import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>) {
  await db.schema
    .createTable('items')
    .addColumn('stream_id', 'uuid', (c) => c.notNull())
    .addColumn('id', 'int8', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('user_id', 'uuid')
    .addColumn('item', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull())
    .addColumn('deleted_at', 'timestamptz(3)')
    // Writes are retried after a crash: the key makes them idempotent.
    .addPrimaryKeyConstraint('items_pk', ['stream_id', 'id'])
    .execute();

  await db.schema
    .createTable('bans')
    .addColumn('stream_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('banned_by', 'uuid', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('bans_pk', ['stream_id', 'user_id'])
    .execute();

  await db.schema
    .createTable('channel_settings')
    .addColumn('channel_id', 'uuid', (c) => c.primaryKey())
    .addColumn('rate_limit_max', 'integer', (c) => c.notNull())
    .addColumn('rate_limit_window_ms', 'integer', (c) => c.notNull())
    .addColumn('mute_ms', 'integer', (c) => c.notNull())
    .addColumn('slow_mode_seconds', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}
