import { createHash, randomBytes } from 'node:crypto';
import type { contents } from '@livehouse/contracts';
import { AppError, type Caller, forbidden, notFound, pgErrorCode, requireUser, writeEvent } from '@livehouse/kit';
import type { Kysely, Transaction } from 'kysely';
import * as repo from './contents.repository.ts';
import type { ContentsDatabase } from './db.ts';

type Db = Kysely<ContentsDatabase>;

// ── stream keys ─────────────────────────────────────────────────────────────────────

/** 32 random bytes: guessing is hopeless, so a fast hash (sha256) is enough to store it. */
export function newStreamKey() {
  const key = `live_${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashStreamKey(key) };
}

export const hashStreamKey = (key: string) => createHash('sha256').update(key).digest('hex');

// ── permissions ─────────────────────────────────────────────────────────────────────

const isAdmin = (user: { roles: readonly string[] }) => user.roles.includes('admin');

/** The channel's owner or an admin, else 403. */
export function requireOwnerOrAdmin(caller: Caller, ownerId: string, what: string) {
  const user = requireUser(caller);
  if (user.id !== ownerId && !isAdmin(user)) throw forbidden(`only the channel's owner or an admin may ${what}`);
  return user;
}

// ── channels ────────────────────────────────────────────────────────────────────────

export async function createChannel(db: Db, caller: Caller, body: contents.CreateChannelBody) {
  const user = requireUser(caller);
  if (!user.roles.includes('streamer') && !isAdmin(user)) {
    throw forbidden('only streamers may create a channel: ask an admin for the streamer role');
  }
  if (body.ownerId !== undefined && body.ownerId !== user.id && !isAdmin(user)) {
    throw forbidden('only an admin may create a channel for another user');
  }
  const ownerId = body.ownerId ?? user.id;
  const { key, hash } = newStreamKey();
  const id = await db
    .transaction()
    .execute(async (trx) => {
      const { id } = await repo.insertChannel(trx, {
        ownerId,
        title: body.title,
        description: body.description ?? '',
        categoryId: body.categoryId ?? null,
        imageUrl: body.imageUrl ?? null,
        streamKeyHash: hash,
      });
      await writeEvent(trx, 'channel.created', id, {
        channelId: id,
        ownerId,
        title: body.title,
        categoryId: body.categoryId ?? null,
      });
      return id;
    })
    .catch((err: unknown) => {
      if (pgErrorCode(err) === '23505')
        throw new AppError('conflict', 'this user already has a channel (one per streamer)');
      if (pgErrorCode(err) === '23503') throw notFound('the category');
      throw err;
    });
  const row = await repo.findChannel(db, id);
  if (!row) throw notFound('the channel');
  return { channel: repo.toChannel(row), streamKey: key };
}

export async function updateChannel(db: Db, caller: Caller, id: string, body: contents.UpdateChannelBody) {
  const channel = await repo.findChannelOwner(db, id);
  if (!channel) throw notFound('the channel');
  const user = requireOwnerOrAdmin(caller, channel.owner_id, 'change it');
  if (body.featured !== undefined && !isAdmin(user)) throw forbidden('only an admin may feature a channel');
  await repo
    .updateChannel(db, id, {
      ...(body.title !== undefined && { title: body.title }),
      ...(body.description !== undefined && { description: body.description }),
      ...(body.categoryId !== undefined && { category_id: body.categoryId }),
      ...(body.imageUrl !== undefined && { image_url: body.imageUrl }),
      ...(body.featured !== undefined && { featured: body.featured }),
    })
    .catch((err: unknown) => {
      throw pgErrorCode(err) === '23503' ? notFound('the category') : err;
    });
  const row = await repo.findChannel(db, id);
  if (!row) throw notFound('the channel');
  return repo.toChannel(row);
}

export async function regenerateStreamKey(db: Db, caller: Caller, id: string): Promise<contents.StreamKey> {
  const channel = await repo.findChannelOwner(db, id);
  if (!channel) throw notFound('the channel');
  requireOwnerOrAdmin(caller, channel.owner_id, 'see or change its stream key');
  const { key, hash } = newStreamKey();
  if (!(await repo.setStreamKeyHash(db, id, hash))) throw notFound('the channel');
  return { channelId: id, streamKey: key };
}

export async function verifyStreamKey(db: Db, key: string): Promise<contents.VerifiedStreamKey> {
  const row = await repo.findChannelByKeyHash(db, hashStreamKey(key));
  if (!row) throw notFound('a channel with this stream key');
  return { channelId: row.id };
}

// ── streams ─────────────────────────────────────────────────────────────────────────

export async function createStream(db: Db, caller: Caller, channelId: string, body: contents.CreateStreamBody) {
  const channel = await repo.findChannelOwner(db, channelId);
  if (!channel) throw notFound('the channel');
  requireOwnerOrAdmin(caller, channel.owner_id, 'schedule its streams');
  const { id } = await repo
    .insertStream(db, {
      channelId,
      title: body.title,
      categoryId: body.categoryId === undefined ? channel.category_id : body.categoryId,
      scheduledAt: body.scheduledAt ? new Date(body.scheduledAt) : null,
    })
    .catch((err: unknown) => {
      throw pgErrorCode(err) === '23503' ? notFound('the category') : err;
    });
  return readStream(db, id);
}

/** The only legal moves of the state machine. */
const TRANSITIONS = {
  start: { from: 'scheduled', to: 'live' },
  end: { from: 'live', to: 'ended' },
} as const;

export type StreamAction = keyof typeof TRANSITIONS;

/**
 * Starts or ends a stream: the row is locked, checked (404, then 403, then 409) and moved, and
 * the event is written to the outbox in the same transaction.
 */
export async function transition(db: Db, caller: Caller, id: string, action: StreamAction) {
  const move = TRANSITIONS[action];
  await db
    .transaction()
    .execute(async (trx) => {
      const row = await repo.lockStream(trx, id);
      if (!row) throw notFound('the stream');
      requireOwnerOrAdmin(caller, row.owner_id, `${action} its streams`);
      if (row.state !== move.from) {
        throw new AppError(
          'invalid_transition',
          `cannot ${action} a stream that is ${row.state}: only a ${move.from} stream can become ${move.to}`,
        );
      }
      if (action === 'start') await startLocked(trx, row, new Date());
      else await endLocked(trx, row, new Date());
    })
    .catch((err: unknown) => {
      // The partial unique index: one live stream per channel.
      if (pgErrorCode(err) === '23505')
        throw new AppError('conflict', 'the channel already has a live stream: end it first');
      throw err;
    });
  return readStream(db, id);
}

type LockedStream = NonNullable<Awaited<ReturnType<typeof repo.lockStream>>>;

/** scheduled → live on a locked row, with its event in the same transaction. */
export async function startLocked(trx: Transaction<ContentsDatabase>, row: LockedStream, now: Date) {
  await repo.markLive(trx, row.id, now);
  await writeEvent(trx, 'stream.started', row.id, {
    streamId: row.id,
    channelId: row.channel_id,
    ownerId: row.owner_id,
    title: row.title,
    categoryId: row.category_id,
    startedAt: now.toISOString(),
  });
}

/** live → ended on a locked row, with its event in the same transaction. */
export async function endLocked(trx: Transaction<ContentsDatabase>, row: LockedStream, now: Date) {
  const startedAt = row.started_at as Date; // a live stream always has one (check constraint)
  const durationSeconds = Math.max(0, Math.floor((now.getTime() - startedAt.getTime()) / 1000));
  await repo.markEnded(trx, row.id, now, durationSeconds);
  await writeEvent(trx, 'stream.ended', row.id, {
    streamId: row.id,
    channelId: row.channel_id,
    ownerId: row.owner_id,
    startedAt: startedAt.toISOString(),
    endedAt: now.toISOString(),
    durationSeconds,
    peakViewerCount: row.peak_viewer_count,
  });
}

export async function setViewerCount(db: Db, id: string, count: number): Promise<contents.ViewerCount> {
  const row = await repo.setViewerCount(db, id, count);
  if (row) return { id: row.id, viewerCount: row.viewer_count, peakViewerCount: row.peak_viewer_count };
  // Only a failed update costs a second statement, to tell "missing" from "not live".
  const found = await repo.findStreamState(db, id);
  if (!found) throw notFound('the stream');
  throw new AppError('stream_not_live', `the stream is ${found.state}: viewer counts apply to live streams only`);
}

export async function readStream(db: Db, id: string) {
  const row = await repo.findStream(db, id);
  if (!row) throw notFound('the stream');
  return repo.toStream(row);
}
