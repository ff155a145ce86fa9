import type { Kysely } from 'kysely';
import type { IngestDatabase, LiveState } from './db.ts';
import type { Segment } from './hls.ts';

type Db = Kysely<IngestDatabase>;

export function findLive(db: Db, streamId: string) {
  return db.selectFrom('lives').selectAll().where('stream_id', '=', streamId).executeTakeFirst();
}

/** Takes the stream for this instance (a first publish, or a republish after another instance went away). */
export async function claimLive(
  db: Db,
  live: { streamId: string; channelId: string; instance: string; transcoded: boolean; now: Date },
) {
  return db
    .insertInto('lives')
    .values({
      stream_id: live.streamId,
      channel_id: live.channelId,
      instance: live.instance,
      state: 'publishing',
      transcoded: live.transcoded,
      started_at: live.now,
      heartbeat_at: live.now,
    })
    .onConflict((oc) =>
      oc.column('stream_id').doUpdateSet({ instance: live.instance, state: 'publishing', heartbeat_at: live.now }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function setState(db: Db, streamId: string, state: LiveState, epoch?: number) {
  return db
    .updateTable('lives')
    .set({ state, heartbeat_at: new Date(), ...(epoch !== undefined && { epoch }) })
    .where('stream_id', '=', streamId)
    .where('state', '<>', 'ended')
    .execute();
}

/** The ladder was dropped (too slow): a takeover continues the stream as passthrough. */
export function setPassthrough(db: Db, streamId: string) {
  return db.updateTable('lives').set({ transcoded: false }).where('stream_id', '=', streamId).execute();
}

/** One statement for every stream this instance holds. */
export function heartbeat(db: Db, streamIds: readonly string[]) {
  if (streamIds.length === 0) return Promise.resolve();
  return db
    .updateTable('lives')
    .set({ heartbeat_at: new Date() })
    .where('stream_id', 'in', streamIds)
    .where('state', '<>', 'ended')
    .execute();
}

/** Open streams nobody has beaten the heartbeat of since `before`: their instance is gone. */
export function findOrphans(db: Db, before: Date, except: readonly string[]) {
  let q = db
    .selectFrom('lives')
    .select(['stream_id', 'channel_id', 'instance'])
    .where('state', '<>', 'ended')
    .where('heartbeat_at', '<', before);
  if (except.length > 0) q = q.where('stream_id', 'not in', except);
  return q.limit(100).execute();
}

export function markEnded(db: Db, streamId: string, archiveSeconds: number) {
  return db
    .updateTable('lives')
    .set({ state: 'ended', ended_at: new Date(), archive_seconds: archiveSeconds })
    .where('stream_id', '=', streamId)
    .execute();
}

export function addArchiveSegment(db: Db, streamId: string, s: Segment, bytes: number, source: string) {
  return db
    .insertInto('archive_segments')
    .values({ stream_id: streamId, seq: s.seq, duration: s.duration, discontinuity: s.discontinuity, bytes, source })
    .onConflict((oc) => oc.columns(['stream_id', 'seq']).doNothing())
    .execute();
}

export function archiveSegments(db: Db, streamId: string) {
  return db
    .selectFrom('archive_segments')
    .select(['seq', 'duration', 'discontinuity', 'source'])
    .where('stream_id', '=', streamId)
    .orderBy('seq')
    .execute();
}
