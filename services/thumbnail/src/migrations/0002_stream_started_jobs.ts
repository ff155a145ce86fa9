import { createProcessedEventsTable } from '@livehouse/kit';
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>) {
  await createProcessedEventsTable(db);

  // Work queued by `stream.started`: the consumer only records it (in its transaction); a worker
  // renders outside any transaction, retries with backoff, and any instance may take a job.
  await db.schema
    .createTable('jobs')
    .addColumn('stream_id', 'uuid', (c) => c.primaryKey())
    .addColumn('channel_id', 'uuid', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_after', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('locked_until', 'timestamptz(3)')
    .addColumn('last_error', 'text')
    .execute();
  await db.schema.createIndex('jobs_run_after_idx').on('jobs').column('run_after').execute();
}
