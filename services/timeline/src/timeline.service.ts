import type { EventEnvelope } from '@livehouse/contracts';
import type { Transaction } from 'kysely';
import type { TimelineDatabase } from './db.ts';
import type { TimelineConfig } from './timeline.config.ts';
import * as repo from './timeline.repository.ts';

type Trx = Transaction<TimelineDatabase>;

/**
 * A channel went live. Ordinary owners' posts are fanned out on write (one row per follower, in one
 * statement); owners with `fanoutThreshold` followers or more keep one row that followers merge when they read.
 * The choice is made once per post, so an owner crossing the threshold never shows a post twice.
 */
export async function streamStarted(trx: Trx, event: EventEnvelope<'stream.started'>, config: TimelineConfig) {
  const { streamId, channelId, ownerId, title, categoryId, startedAt } = event.data;
  const followers = await repo.countFollowersUpTo(trx, ownerId, config.fanoutThreshold);
  const fannedOut = followers < config.fanoutThreshold;
  const at = new Date(startedAt);
  const inserted = await repo.insertPost(trx, {
    id: event.id,
    type: 'stream.started',
    stream_id: streamId,
    channel_id: channelId,
    owner_id: ownerId,
    title,
    category_id: categoryId,
    at,
    ended_at: null,
    fanned_out: fannedOut,
  });
  if (inserted && fannedOut && followers > 0) await repo.fanOut(trx, { id: event.id, ownerId, at });
}

export async function streamEnded(trx: Trx, event: EventEnvelope<'stream.ended'>) {
  await repo.endPost(trx, event.data.streamId, new Date(event.data.endedAt));
}

export async function followed(trx: Trx, event: EventEnvelope<'user.followed'>, config: TimelineConfig) {
  const { followerId, followeeId } = event.data;
  if (await repo.insertFollow(trx, followerId, followeeId, new Date(event.occurredAt))) {
    await repo.backfill(trx, followerId, followeeId, config.backfillOnFollow);
  }
}

export async function unfollowed(trx: Trx, event: EventEnvelope<'user.unfollowed'>) {
  const { followerId, followeeId } = event.data;
  if (await repo.deleteFollow(trx, followerId, followeeId)) await repo.removeOwnerEntries(trx, followerId, followeeId);
}
