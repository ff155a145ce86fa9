import type { Kysely, Transaction } from 'kysely';
import type { SentStampRow, StampDatabase } from './db.ts';

type Db = Kysely<StampDatabase> | Transaction<StampDatabase>;
type Trx = Transaction<StampDatabase>;

const stampColumns = ['id', 'name', 'image_url', 'category', 'price', 'channel_id'] as const;

/** Changes whenever a stamp is added or changed: one cheap statement decides whether a cached catalog is current. */
export async function catalogFingerprint(db: Db) {
  const row = await db
    .selectFrom('stamps')
    .select((eb) => [eb.fn.countAll<number>().as('count'), eb.fn.max('updated_at').as('updated')])
    .executeTakeFirstOrThrow();
  return `${Number(row.count)}:${row.updated ? new Date(row.updated).getTime() : 0}`;
}

export function listStamps(db: Db) {
  return db.selectFrom('stamps').select(stampColumns).orderBy('sort_order').orderBy('id').execute();
}

export function findStamp(db: Db, id: string) {
  return db.selectFrom('stamps').select(stampColumns).where('id', '=', id).executeTakeFirst();
}

export function insertStamp(
  db: Db,
  s: { id: string; name: string; imageUrl: string; category: string; price: number; channelId: string | null },
) {
  return db
    .insertInto('stamps')
    .values((eb) => ({
      id: s.id,
      name: s.name,
      image_url: s.imageUrl,
      category: s.category,
      price: s.price,
      channel_id: s.channelId,
      // New stamps go to the end of the catalog.
      sort_order: eb
        .selectFrom('stamps')
        .select((sub) => sub(sub.fn.coalesce(sub.fn.max('sort_order'), sub.lit(-1)), '+', 1).as('next')),
    }))
    .returning(stampColumns)
    .executeTakeFirstOrThrow();
}

export function findSent(db: Db, id: string) {
  return db.selectFrom('sent_stamps').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Undefined when the row exists already (a concurrent retry won). */
export function insertSent(trx: Trx, row: Omit<SentStampRow, 'created_at'>) {
  return trx
    .insertInto('sent_stamps')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function addSupport(trx: Trx, streamId: string, userId: string, points: number, at: Date) {
  await trx
    .insertInto('supporters')
    .values({ stream_id: streamId, user_id: userId, points, stamps: 1, last_sent_at: at })
    .onConflict((oc) =>
      oc.columns(['stream_id', 'user_id']).doUpdateSet((eb) => ({
        points: eb('supporters.points', '+', points),
        stamps: eb('supporters.stamps', '+', 1),
        last_sent_at: at,
      })),
    )
    .execute();
}

/** Top supporters of a stream, most points first: one statement. */
export function topSupporters(db: Db, streamId: string, limit: number) {
  return db
    .selectFrom('supporters')
    .select(['user_id', 'points', 'stamps'])
    .where('stream_id', '=', streamId)
    .orderBy('points', 'desc')
    .orderBy('stamps', 'desc')
    .orderBy('user_id')
    .limit(limit)
    .execute();
}
