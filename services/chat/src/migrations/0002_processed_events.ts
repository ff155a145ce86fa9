import { createProcessedEventsTable } from '@livehouse/kit';
import type { Kysely } from 'kysely';

/** chat consumes `stamp.sent`: each event is applied once. */
export async function up(db: Kysely<unknown>) {
  await createProcessedEventsTable(db);
}
