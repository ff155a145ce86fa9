import type { Kysely, Transaction } from 'kysely';
import type { ContentsDatabase } from './db.ts';

type Db = Kysely<ContentsDatabase> | Transaction<ContentsDatabase>;

/**
 * The stream a publish on this channel drives: the live one (a republish), else the scheduled one due
 * first. The channel row is locked so that two publishes of one channel queue up.
 */
export async function lockChannelForPublish(trx: Transaction<ContentsDatabase>, channelId: string) {
  const channel = await trx
    .selectFrom('channels')
    .select(['id', 'title', 'category_id'])
    .where('id', '=', channelId)
    .forUpdate()
    .executeTakeFirst();
  if (!channel) return undefined;
  const stream = await trx
    .selectFrom('streams')
    .select(['id', 'state'])
    .where('channel_id', '=', channelId)
    .where('state', 'in', ['live', 'scheduled'])
    // live first, then the scheduled stream due first (unscheduled ones last, oldest first)
    .orderBy((eb) => eb.case().when('state', '=', 'live').then(0).else(1).end())
    .orderBy('scheduled_at', (o) => o.asc().nullsLast())
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst();
  return { channel, stream };
}

export function setArchive(db: Db, id: string, seconds: number, at: Date) {
  return db
    .updateTable('streams')
    .set({ archive_seconds: seconds, archive_registered_at: at })
    .where('id', '=', id)
    .where('state', '=', 'ended')
    .returning('id')
    .executeTakeFirst();
}
