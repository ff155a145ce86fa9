import { type Kysely, sql, type Transaction } from 'kysely';
import type { JobRow, ThumbnailDatabase } from './db.ts';

type Db = Kysely<ThumbnailDatabase>;

export interface NewJob {
  streamId: string;
  channelId: string;
  title: string;
  eventId: string;
}

/** Queues a stream's generation; a newer event for the same stream replaces the waiting job and runs now. */
export async function enqueue(trx: Transaction<ThumbnailDatabase>, job: NewJob) {
  const values = { channel_id: job.channelId, title: job.title, event_id: job.eventId };
  await trx
    .insertInto('jobs')
    .values({ stream_id: job.streamId, ...values })
    .onConflict((oc) =>
      oc.column('stream_id').doUpdateSet({
        ...values,
        attempts: 0,
        run_after: sql<Date>`now()`,
        locked_until: null,
        last_error: null,
      }),
    )
    .execute();
}

/**
 * Takes the oldest due job that nobody holds, for `leaseMs`: one statement, and `skip locked`
 * lets several instances claim different jobs at once.
 */
export async function claim(db: Db, leaseMs: number): Promise<JobRow | undefined> {
  return db
    .updateTable('jobs')
    .set((eb) => ({
      locked_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})`,
      attempts: eb('attempts', '+', 1),
    }))
    .where('stream_id', '=', (eb) =>
      eb
        .selectFrom('jobs')
        .select('stream_id')
        .where('run_after', '<=', sql<Date>`now()`)
        .where((w) => w.or([w('locked_until', 'is', null), w('locked_until', '<', sql<Date>`now()`)]))
        .orderBy('run_after')
        .limit(1)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .executeTakeFirst();
}

/** Done (or given up): removed unless a newer event replaced it meanwhile. */
export async function finish(db: Db, job: Pick<JobRow, 'stream_id' | 'event_id'>) {
  await db.deleteFrom('jobs').where('stream_id', '=', job.stream_id).where('event_id', '=', job.event_id).execute();
}

export async function retryLater(db: Db, job: Pick<JobRow, 'stream_id' | 'event_id'>, delayMs: number, error: string) {
  await db
    .updateTable('jobs')
    .set({
      run_after: sql<Date>`now() + make_interval(secs => ${delayMs / 1000})`,
      locked_until: null,
      last_error: error.slice(0, 1000),
    })
    .where('stream_id', '=', job.stream_id)
    .where('event_id', '=', job.event_id)
    .execute();
}
