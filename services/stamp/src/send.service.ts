import type { point, stamp } from '@livehouse/contracts';
import {
  AppError,
  type Caller,
  type Clients,
  derivedIdempotencyKey,
  forbidden,
  notFound,
  type RateLimit,
  type RateLimiter,
  rateLimited,
  requireUser,
  writeEvent,
} from '@livehouse/kit';
import type { Kysely } from 'kysely';
import type { Catalog } from './catalog.service.ts';
import type { SentStampRow, StampDatabase } from './db.ts';
import { deterministicUuid } from './ids.ts';
import * as repo from './stamp.repository.ts';

export interface SendDeps {
  db: Kysely<StampDatabase>;
  catalog: Catalog;
  contents: Clients['contents'];
  point: Clients['point'];
  limiter: RateLimiter;
  freeLimit: RateLimit;
}

/** The sent stamp's id, from who sent it and their key: a retry lands on the same id (and point reference). */
export const sentStampId = (senderId: string, key: string) => deterministicUuid(`livehouse:sent:${senderId}\n${key}`);

/** The key the point service sees: one per sender and request key, never shared with other callers' keys. */
export const spendKey = (senderId: string, key: string) => derivedIdempotencyKey('stamp', senderId, key);

/**
 * Sends a stamp to a live stream, at most once per (sender, Idempotency-Key):
 * replay check → stamp → stream is live (contents) → rate limit (free) or spend (point) → record.
 * Calls to other services all happen before the one transaction.
 */
export async function sendStamp(
  deps: SendDeps,
  caller: Caller,
  streamId: string,
  stampId: string,
  key: string,
): Promise<{ sent: stamp.SentStamp; replayed: boolean }> {
  const user = requireUser(caller);
  const id = sentStampId(user.id, key);

  const previous = await repo.findSent(deps.db, id);
  if (previous) return { sent: replay(previous, streamId, stampId), replayed: true };

  const item = await repo.findStamp(deps.db, stampId);
  if (!item) throw notFound('the stamp');
  const stream = await deps.contents.stream({ params: { id: streamId }, user });
  if (stream.state !== 'live') {
    throw new AppError('stream_not_live', `the stream is ${stream.state}: stamps can only be sent while it is live`);
  }
  if (item.channel_id !== null && item.channel_id !== stream.channelId) {
    throw forbidden("this stamp belongs to another channel: use it on that channel's streams");
  }

  let spend: point.Spend | undefined;
  if (item.price === 0) {
    const hit = await deps.limiter.hit(`stamp:free:${user.id}`, deps.freeLimit);
    if (!hit.allowed) throw rateLimited(hit, 'free stamps');
  } else {
    if (stream.ownerId === user.id) throw new AppError('bad_request', 'you cannot send paid stamps to your own stream');
    spend = await deps.point.spend({
      user,
      headers: { 'idempotency-key': spendKey(user.id, key) },
      body: { fromUserId: user.id, toUserId: stream.ownerId, amount: item.price, reason: 'stamp', reference: id },
    });
  }

  const now = new Date();
  const row = await deps.db.transaction().execute(async (trx) => {
    const inserted = await repo.insertSent(trx, {
      id,
      sender_id: user.id,
      idempotency_key: key,
      stream_id: streamId,
      stamp_id: stampId,
      receiver_id: stream.ownerId,
      price: item.price,
      transfer_id: spend?.transferId ?? null,
      balance_after: spend?.balance ?? null,
    });
    if (!inserted) return undefined; // a concurrent retry recorded it first
    if (item.price > 0) await repo.addSupport(trx, streamId, user.id, item.price, now);
    await writeEvent(trx, 'stamp.sent', streamId, {
      sentStampId: id,
      streamId,
      stampId,
      senderId: user.id,
      receiverId: stream.ownerId,
      price: item.price,
      transferId: inserted.transfer_id,
      sentAt: inserted.created_at.toISOString(),
    });
    return inserted;
  });
  if (row) return { sent: toSentStamp(row), replayed: false };
  const winner = await repo.findSent(deps.db, id);
  if (!winner) throw new AppError('internal_error', 'the sent stamp vanished');
  return { sent: replay(winner, streamId, stampId), replayed: true };
}

/** The stored answer, if the retry asks for the same thing; a key reused for something else is a 422. */
function replay(row: SentStampRow, streamId: string, stampId: string) {
  if (row.stream_id !== streamId || row.stamp_id !== stampId) {
    throw new AppError(
      'idempotency_key_reused',
      'this Idempotency-Key was already used for another stamp or stream: use a new key for a new send',
    );
  }
  return toSentStamp(row);
}

export function toSentStamp(row: SentStampRow): stamp.SentStamp {
  return {
    id: row.id,
    streamId: row.stream_id,
    stampId: row.stamp_id,
    senderId: row.sender_id,
    receiverId: row.receiver_id,
    price: row.price,
    transferId: row.transfer_id,
    balance: row.balance_after,
    createdAt: row.created_at.toISOString(),
  };
}
