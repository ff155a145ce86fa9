import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>) {
  // One row per stream this service has taken a publish for; the instance holding it beats its heartbeat.
  await db.schema
    .createTable('lives')
    .addColumn('stream_id', 'uuid', (c) => c.primaryKey())
    .addColumn('channel_id', 'uuid', (c) => c.notNull())
    .addColumn('instance', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('publishing', 'reconnecting', 'ended')`))
    .addColumn('transcoded', 'boolean', (c) => c.notNull())
    .addColumn('epoch', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('started_at', 'timestamptz(3)', (c) => c.notNull())
    .addColumn('heartbeat_at', 'timestamptz(3)', (c) => c.notNull())
    .addColumn('ended_at', 'timestamptz(3)')
    .addColumn('archive_seconds', 'double precision')
    .execute();
  await db.schema
    .createIndex('lives_open_idx')
    .on('lives')
    .columns(['heartbeat_at'])
    .where(sql.ref('state'), '<>', 'ended')
    .execute();

  // The archive: every segment of the source rendition, in order; a VOD playlist is rebuilt from it.
  await db.schema
    .createTable('archive_segments')
    .addColumn('stream_id', 'uuid', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('duration', 'double precision', (c) => c.notNull())
    .addColumn('discontinuity', 'boolean', (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    // ffmpeg's own name for it (`e<run>/<file>`): after a crash, files on disk not yet stored are found by it.
    .addColumn('source', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('archive_segments_pk', ['stream_id', 'seq'])
    .execute();
}
