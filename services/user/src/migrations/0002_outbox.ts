import { createOutboxTable } from '@livehouse/kit';
import type { Kysely } from 'kysely';

/** user publishes follow changes (user.followed, user.unfollowed) through its outbox. */
export async function up(db: Kysely<unknown>) {
  await createOutboxTable(db);
}
