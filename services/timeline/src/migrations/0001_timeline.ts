import { createProcessedEventsTable } from '@livehouse/kit';
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>) {
  await createProcessedEventsTable(db);

  await db.schema
    .createTable('follows')
    .addColumn('follower_id', 'uuid', (c) => c.notNull())
    .addColumn('followee_id', 'uuid', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull())
    .addPrimaryKeyConstraint('follows_pk', ['follower_id', 'followee_id'])
    .execute();
  // Fan-out reads an owner's followers; the bounded follower count walks the same index.
  await db.schema.createIndex('follows_followee_idx').on('follows').columns(['followee_id', 'follower_id']).execute();

  await db.schema
    .createTable('posts')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('stream_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('channel_id', 'uuid', (c) => c.notNull())
    .addColumn('owner_id', 'uuid', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('category_id', 'uuid')
    .addColumn('at', 'timestamptz(3)', (c) => c.notNull())
    .addColumn('ended_at', 'timestamptz(3)')
    .addColumn('fanned_out', 'boolean', (c) => c.notNull())
    .execute();
  // Fan-out on read: the posts of big channels a user follows, newest first.
  await db.schema
    .createIndex('posts_unfanned_idx')
    .on('posts')
    .columns(['owner_id', 'at desc', 'id desc'])
    .where(sql.ref('fanned_out'), '=', false)
    .execute();
  // Backfill on follow and cleanup on unfollow: an owner's posts.
  await db.schema.createIndex('posts_owner_idx').on('posts').columns(['owner_id', 'at desc']).execute();

  await db.schema
    .createTable('timeline_entries')
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('post_id', 'uuid', (c) => c.notNull().references('posts.id').onDelete('cascade'))
    .addColumn('at', 'timestamptz(3)', (c) => c.notNull())
    .addPrimaryKeyConstraint('timeline_entries_pk', ['user_id', 'post_id'])
    .execute();
  // A page of a user's timeline: newest first, ties by post id (the cursor).
  await db.schema
    .createIndex('timeline_entries_page_idx')
    .on('timeline_entries')
    .columns(['user_id', 'at desc', 'post_id desc'])
    .execute();
}
