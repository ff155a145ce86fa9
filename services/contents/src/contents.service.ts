import { createHash, randomBytes } from 'node:crypto';
import type { contents } from '@livehouse/contracts';
import {
  AppError,
  type Caller,
  decodeCursor,
  forbidden,
  notFound,
  requireUser,
  toPage,
  writeEvent,
} from '@livehouse/kit';
import type { Kysely, Transaction } from 'kysely';
import type { Static } from 'typebox';
import { toCategory, toChannel, toStream } from './contents.mappers.ts';
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

// ── categories ──────────────────────────────────────────────────────────────────────

export async function categories(db: Db): Promise<contents.CategoryList> {
  return { items: (await repo.listCategories(db)).map(toCategory) };
}

export async function category(db: Db, slug: string) {
  const row = await repo.findCategoryBySlug(db, slug);
  if (!row) throw notFound(`the category ${slug}`);
  return toCategory(row);
}

export async function createCategory(db: Db, caller: Caller, body: { slug: string; name: string }) {
  if (!isAdmin(requireUser(caller))) throw new AppError('forbidden', 'only admins add categories');
  const row = await repo.insertCategory(db, body);
  if (row === 'slug_taken') throw new AppError('conflict', `the slug ${body.slug} is taken`);
  return toCategory(row);
}

// ── channels ────────────────────────────────────────────────────────────────────────

/** Batch lookup: one statement for up to 100 ids; unknown ids are simply absent. */
export async function channels(db: Db, ids: readonly string[]): Promise<contents.ChannelList> {
  return { items: (await repo.findChannels(db, ids)).map(toChannel) };
}

export async function channel(db: Db, id: string) {
  const row = await repo.findChannel(db, id);
  if (!row) throw notFound('the channel');
  return toChannel(row);
}

export async function channelByOwner(db: Db, ownerId: string) {
  const row = await repo.findChannelByOwner(db, ownerId);
  if (!row) throw notFound('a channel of this user');
  return toChannel(row);
}

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
  const id = await db.transaction().execute(async (trx) => {
    const inserted = await repo.insertChannel(trx, {
      ownerId,
      title: body.title,
      description: body.description ?? '',
      categoryId: body.categoryId ?? null,
      imageUrl: body.imageUrl ?? null,
      streamKeyHash: hash,
    });
    if (inserted === 'owner_has_channel') {
      throw new AppError('conflict', 'this user already has a channel (one per streamer)');
    }
    if (inserted === 'unknown_category') throw notFound('the category');
    const { id } = inserted;
    await writeEvent(trx, 'channel.created', id, {
      channelId: id,
      ownerId,
      title: body.title,
      categoryId: body.categoryId ?? null,
    });
    return id;
  });
  const row = await repo.findChannel(db, id);
  if (!row) throw notFound('the channel');
  return { channel: toChannel(row), streamKey: key };
}

export async function updateChannel(db: Db, caller: Caller, id: string, body: contents.UpdateChannelBody) {
  const channel = await repo.findChannelOwner(db, id);
  if (!channel) throw notFound('the channel');
  const user = requireOwnerOrAdmin(caller, channel.owner_id, 'change it');
  if (body.featured !== undefined && !isAdmin(user)) throw forbidden('only an admin may feature a channel');
  const updated = await repo.updateChannel(db, id, {
    ...(body.title !== undefined && { title: body.title }),
    ...(body.description !== undefined && { description: body.description }),
    ...(body.categoryId !== undefined && { category_id: body.categoryId }),
    ...(body.imageUrl !== undefined && { image_url: body.imageUrl }),
    ...(body.featured !== undefined && { featured: body.featured }),
  });
  if (updated === 'unknown_category') throw notFound('the category');
  const row = await repo.findChannel(db, id);
  if (!row) throw notFound('the channel');
  return toChannel(row);
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

/** Batch lookup: one statement for up to 100 ids. */
export async function streams(db: Db, ids: readonly string[]): Promise<contents.StreamList> {
  return { items: (await repo.findStreams(db, ids)).map(toStream) };
}

/** Live streams, most viewers first (in one category, or featured channels only). */
export async function livePage(
  db: Db,
  filter: repo.LiveFilter,
  query: Static<typeof contents.ListQuery>,
): Promise<contents.StreamPage> {
  const limit = query.limit ?? 20;
  const key = decodeCursor(query.cursor, ['int', 'uuid']);
  const after = key && { viewers: key[0], id: key[1] };
  const rows = await repo.listLive(db, filter, limit, after);
  // An empty first page for an unknown category slug is a 404; only then does it cost a second statement.
  if (rows.length === 0 && !after && filter.categorySlug && !(await repo.findCategoryBySlug(db, filter.categorySlug))) {
    throw notFound(`the category ${filter.categorySlug}`);
  }
  const page = toPage(rows, limit, (r) => [r.viewer_count, r.id]);
  return { items: page.items.map(toStream), nextCursor: page.nextCursor };
}

/** A channel's ended streams, newest first. */
export async function archivePage(
  db: Db,
  channelId: string,
  query: Static<typeof contents.ListQuery>,
): Promise<contents.StreamPage> {
  const limit = query.limit ?? 20;
  const key = decodeCursor(query.cursor, ['time', 'uuid']);
  const after = key && { endedAt: key[0], id: key[1] };
  const rows = await repo.listArchives(db, channelId, limit, after);
  if (rows.length === 0 && !after && !(await repo.findChannelOwner(db, channelId))) throw notFound('the channel');
  const page = toPage(rows, limit, (r) => [r.ended_at as Date, r.id]);
  return { items: page.items.map(toStream), nextCursor: page.nextCursor };
}

export async function createStream(db: Db, caller: Caller, channelId: string, body: contents.CreateStreamBody) {
  const channel = await repo.findChannelOwner(db, channelId);
  if (!channel) throw notFound('the channel');
  requireOwnerOrAdmin(caller, channel.owner_id, 'schedule its streams');
  const created = await repo.insertStream(db, {
    channelId,
    title: body.title,
    categoryId: body.categoryId === undefined ? channel.category_id : body.categoryId,
    scheduledAt: body.scheduledAt ? new Date(body.scheduledAt) : null,
  });
  if (created === 'unknown_category') throw notFound('the category');
  return readStream(db, created.id);
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
  await db.transaction().execute(async (trx) => {
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
  });
  return readStream(db, id);
}

type LockedStream = NonNullable<Awaited<ReturnType<typeof repo.lockStream>>>;

/** scheduled → live on a locked row, with its event in the same transaction. */
export async function startLocked(trx: Transaction<ContentsDatabase>, row: LockedStream, now: Date) {
  if ((await repo.markLive(trx, row.id, now)) === 'channel_already_live') {
    throw new AppError('conflict', 'the channel already has a live stream: end it first');
  }
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
  return toStream(row);
}
