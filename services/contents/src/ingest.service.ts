import { AppError, notFound } from '@livehouse/kit';
import type { Kysely } from 'kysely';
import * as repo from './contents.repository.ts';
import { endLocked, readStream, startLocked } from './contents.service.ts';
import type { ContentsDatabase } from './db.ts';
import * as ingestRepo from './ingest.repository.ts';

type Db = Kysely<ContentsDatabase>;

/**
 * A publish with this channel's key: its live stream stays live (a republish resumes it), else its
 * next scheduled stream goes live, else a new stream titled like the channel is created live.
 */
export async function goLive(db: Db, channelId: string) {
  const id = await db.transaction().execute(async (trx) => {
    const found = await ingestRepo.lockChannelForPublish(trx, channelId);
    if (!found) throw notFound('the channel');
    if (found.stream?.state === 'live') return found.stream.id;
    let streamId = found.stream?.id;
    if (!streamId) {
      const created = await repo.insertStream(trx, {
        channelId,
        title: found.channel.title,
        categoryId: found.channel.category_id,
        scheduledAt: null,
      });
      if (created === 'unknown_category') throw notFound('the category');
      streamId = created.id;
    }
    const row = await repo.lockStream(trx, streamId);
    if (!row) throw notFound('the stream');
    await startLocked(trx, row, new Date());
    return streamId;
  });
  return readStream(db, id);
}

/** The publisher is gone for good (grace window over, or an orphan after a crash): idempotent. */
export async function endLive(db: Db, id: string) {
  await db.transaction().execute(async (trx) => {
    const row = await repo.lockStream(trx, id);
    if (!row) throw notFound('the stream');
    if (row.state === 'live') await endLocked(trx, row, new Date());
    else if (row.state !== 'ended') throw new AppError('invalid_transition', `the stream is ${row.state}, not live`);
  });
  return readStream(db, id);
}

export async function registerArchive(db: Db, id: string, durationSeconds: number) {
  if (await ingestRepo.setArchive(db, id, durationSeconds, new Date())) return readStream(db, id);
  const found = await repo.findStreamState(db, id);
  if (!found) throw notFound('the stream');
  throw new AppError('invalid_transition', `the stream is ${found.state}: an archive is registered once it ended`);
}
