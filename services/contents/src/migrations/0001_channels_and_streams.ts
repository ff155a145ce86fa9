import { createOutboxTable } from '@livehouse/kit';
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>) {
  await db.schema
    .createTable('categories')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('channels')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    // One channel per streamer: the user id comes from auth/user, which own it (no cross-schema key).
    .addColumn('owner_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('category_id', 'uuid', (c) => c.references('categories.id').onDelete('set null'))
    .addColumn('image_url', 'text')
    .addColumn('featured', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('stream_key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('streams')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('channel_id', 'uuid', (c) => c.notNull().references('channels.id').onDelete('cascade'))
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('category_id', 'uuid', (c) => c.references('categories.id').onDelete('set null'))
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('scheduled'))
    .addColumn('scheduled_at', 'timestamptz(3)')
    .addColumn('started_at', 'timestamptz(3)')
    .addColumn('ended_at', 'timestamptz(3)')
    .addColumn('duration_seconds', 'integer')
    .addColumn('viewer_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('peak_viewer_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('streams_state_check', sql`state in ('scheduled', 'live', 'ended')`)
    // The state machine's invariants, enforced by the database as well as by the code.
    .addCheckConstraint(
      'streams_state_fields_check',
      sql`(state = 'scheduled' and started_at is null and ended_at is null)
       or (state = 'live' and started_at is not null and ended_at is null)
       or (state = 'ended' and started_at is not null and ended_at is not null and duration_seconds >= 0)`,
    )
    .addCheckConstraint('streams_viewers_check', sql`viewer_count >= 0 and peak_viewer_count >= viewer_count`)
    .execute();

  // At most one live stream per channel.
  await db.schema
    .createIndex('streams_one_live_per_channel')
    .on('streams')
    .column('channel_id')
    .unique()
    .where(sql.ref('state'), '=', 'live')
    .execute();
  // "Live now", all and per category: most viewers first, id breaks ties (the cursor).
  await db.schema
    .createIndex('streams_live_idx')
    .on('streams')
    .columns(['viewer_count desc', 'id desc'])
    .where(sql.ref('state'), '=', 'live')
    .execute();
  await db.schema
    .createIndex('streams_live_category_idx')
    .on('streams')
    .columns(['category_id', 'viewer_count desc', 'id desc'])
    .where(sql.ref('state'), '=', 'live')
    .execute();
  // A channel's archives, newest first.
  await db.schema
    .createIndex('streams_archive_idx')
    .on('streams')
    .columns(['channel_id', 'ended_at desc', 'id desc'])
    .where(sql.ref('state'), '=', 'ended')
    .execute();

  await createOutboxTable(db);
}
