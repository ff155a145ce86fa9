import { type Kysely, sql } from 'kysely';

/** Thumbnails may come from a frame of the live video (sent by ingest). */
export async function up(db: Kysely<unknown>) {
  await db.schema.alterTable('thumbnails').dropConstraint('thumbnails_source_check').execute();
  await db.schema
    .alterTable('thumbnails')
    .addCheckConstraint('thumbnails_source_check', sql`source in ('upload', 'channel_image_url', 'card', 'live_frame')`)
    .execute();
}
