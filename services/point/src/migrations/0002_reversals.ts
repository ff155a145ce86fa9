import { type Kysely, sql } from 'kysely';

/**
 * Provider refunds and disputes: a purchase may be reversed in several steps (partial refunds, then a
 * dispute), each a `reversal` transfer naming it in `reverses`; what the wallet could not give back is
 * the user's debt (account `debt:<user>`), collected or written off by an admin.
 */
export async function up(db: Kysely<unknown>) {
  await db.schema
    .alterTable('transfers')
    .addColumn('reverses', 'uuid', (c) => c.references('transfers.id'))
    .execute();
  await db.schema.alterTable('transfers').dropConstraint('transfers_kind_check').execute();
  await db.schema
    .alterTable('transfers')
    .addCheckConstraint(
      'transfers_kind_check',
      sql`kind in ('purchase', 'spend', 'refund', 'sweep', 'reversal', 'debt_collection', 'debt_write_off')`,
    )
    .execute();
  await db.schema.createIndex('transfers_reverses_idx').on('transfers').column('reverses').execute();
}
