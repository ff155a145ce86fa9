import { type Kysely, sql } from 'kysely';

/** The VOD ingest registers on an ended stream: its duration from the segments, and when. */
export async function up(db: Kysely<unknown>) {
  await db.schema
    .alterTable('streams')
    .addColumn('archive_seconds', 'double precision')
    .addColumn('archive_registered_at', 'timestamptz(3)')
    .execute();
  await db.schema
    .alterTable('streams')
    .addCheckConstraint(
      'streams_archive_check',
      sql`(archive_seconds is null and archive_registered_at is null)
       or (state = 'ended' and archive_seconds >= 0 and archive_registered_at is not null)`,
    )
    .execute();
}
