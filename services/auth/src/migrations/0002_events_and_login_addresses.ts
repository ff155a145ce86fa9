import { createProcessedEventsTable } from '@livehouse/kit';
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>) {
  // Auth consumes channel.created (the channel's owner becomes a streamer): each event applied once.
  await createProcessedEventsTable(db);

  // Addresses an account logged in from: the owner's own are never slowed by others' failed guesses.
  await db.schema
    .createTable('login_addresses')
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    /** sha256 of the client address, hex: the address itself is not kept. */
    .addColumn('address_hash', 'text', (c) => c.notNull())
    .addColumn('last_success_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('login_addresses_pk', ['account_id', 'address_hash'])
    .execute();
}
