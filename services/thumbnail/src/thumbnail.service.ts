import { randomBytes } from 'node:crypto';
import type { contents, EventData, thumbnail } from '@livehouse/contracts';
import { AppError, type Caller, type Clients } from '@livehouse/kit';
import type { ObjectStorage } from '@livehouse/kit/storage';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { ThumbnailConfig } from './config.ts';
import type { ThumbnailDatabase, ThumbnailRow } from './db.ts';
import { CONTENT_TYPES, etagOf, type Format, normalizeImage, renderCard, renderVariants } from './image.ts';
import type { PendingWork, Semaphore } from './limit.ts';
import type { RemoteImageFetcher } from './remote-image.ts';
import * as repo from './thumbnail.repository.ts';

export interface ThumbnailDeps {
  db: Kysely<ThumbnailDatabase>;
  storage: ObjectStorage;
  config: ThumbnailConfig;
  contents: Clients['contents'];
  remote: RemoteImageFetcher | undefined;
  log: FastifyBaseLogger;
  renders: Semaphore;
  pending: PendingWork;
}

/** What a stream's thumbnails are made from. */
export interface StreamFacts {
  streamId: string;
  channelId: string | null;
  title: string;
  category: string | null;
  /** The channel's `imageUrl` in contents, used when the channel uploaded no image. */
  imageUrl: string | null;
}

const largest = (config: ThumbnailConfig) =>
  config.sizes.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));

/** The uploaded image, else the channel's image URL, else a generated card. */
async function sourceImage(deps: ThumbnailDeps, facts: StreamFacts) {
  if (facts.channelId) {
    const row = await repo.findChannelImage(deps.db, facts.channelId);
    const data = row && (await deps.storage.get(row.storage_key));
    if (data) return { source: 'upload' as const, image: data };
    if (row) deps.log.warn({ channelId: facts.channelId, key: row.storage_key }, 'channel image missing in storage');
  }
  if (facts.imageUrl && deps.remote) {
    try {
      const raw = await deps.remote.fetch(facts.imageUrl);
      const { data } = await normalizeImage(raw, undefined, deps.config.upload);
      return { source: 'channel_image_url' as const, image: data };
    } catch (err) {
      deps.log.warn({ err, streamId: facts.streamId, url: facts.imageUrl }, 'channel image URL unusable: using a card');
    }
  }
  const image = await renderCard({ title: facts.title, category: facts.category }, largest(deps.config));
  return { source: 'card' as const, image };
}

/**
 * Renders every configured size in every format, stores the files, then swaps the stream's rows in
 * one transaction and deletes the files they replace. URLs carry the content hash, so one never
 * changes meaning, and the same inputs give the same URLs again.
 */
export async function generate(
  deps: ThumbnailDeps,
  facts: StreamFacts,
  frame?: Buffer,
): Promise<thumbnail.StreamThumbnails> {
  const { config, storage } = deps;
  const { source, variants } = await deps.renders.run(async () => {
    const { source, image } = frame ? { source: 'live_frame' as const, image: frame } : await sourceImage(deps, facts);
    return { source, variants: await renderVariants(image, config.sizes, config.formats, config.quality) };
  });
  const generatedAt = new Date();
  // Keys are unique per generation: deleting the files a set replaced can never hit the same-content
  // files a concurrent generation has just written (URLs stay content-addressed through the etag).
  const generation = randomBytes(4).toString('hex');
  const rows: ThumbnailRow[] = variants.map((v) => ({
    stream_id: facts.streamId,
    size: v.size,
    format: v.format,
    width: v.width,
    height: v.height,
    bytes: v.data.length,
    etag: v.etag,
    storage_key: `streams/${facts.streamId}/${v.size}-${v.etag}-${generation}.${v.format}`,
    source,
    generated_at: generatedAt,
  }));
  // Files first, rows second: a row never names a file that is not there yet.
  await Promise.all(
    variants.map((v, i) => storage.put((rows[i] as ThumbnailRow).storage_key, v.data, CONTENT_TYPES[v.format])),
  );
  const stale = await deps.db.transaction().execute((trx) => repo.replaceThumbnails(trx, facts.streamId, rows));
  await deleteQuietly(deps, stale);
  return toStreamThumbnails(config, rows)[0] as thumbnail.StreamThumbnails;
}

/** For a `stream.started` event: facts from contents, or from the event alone when contents cannot answer. */
export async function onStreamStarted(
  deps: ThumbnailDeps,
  event: Pick<EventData<'stream.started'>, 'streamId' | 'channelId' | 'title'>,
) {
  const { streamId, channelId, title } = event;
  let facts: StreamFacts;
  try {
    facts = await streamFacts(deps, streamId);
  } catch (err) {
    deps.log.warn({ err, streamId }, 'contents did not describe the stream: thumbnails from the event alone');
    facts = { streamId, channelId, title, category: null, imageUrl: null };
  }
  return generate(deps, facts);
}

async function streamFacts(deps: ThumbnailDeps, streamId: string) {
  const stream = await deps.contents.stream({ params: { id: streamId } });
  return { stream, ...factsOf(stream) };
}

const factsOf = (stream: contents.Stream): StreamFacts => ({
  streamId: stream.id,
  channelId: stream.channelId,
  title: stream.title,
  category: stream.category?.name ?? null,
  imageUrl: stream.channel.imageUrl,
});

/**
 * `POST /streams/:streamId/thumbnails`: the stream's owner or an admin, or a service acting on its
 * own (never the BFF without a user). The body overrides what contents says about the stream.
 */
export async function generateOnDemand(
  deps: ThumbnailDeps,
  caller: Caller,
  streamId: string,
  body: thumbnail.GenerateBody,
) {
  if (!caller.user && caller.service === 'bff') throw new AppError('unauthorized', 'log in first: this needs a user');
  const { stream, ...facts } = await streamFacts(deps, streamId);
  if (caller.user && caller.user.id !== stream.ownerId && !caller.user.roles.includes('admin')) {
    throw new AppError('forbidden', 'only the channel owner or an admin may generate its thumbnails');
  }
  if (body.channelId && body.channelId !== stream.channelId) {
    throw new AppError('bad_request', 'channelId is not the channel of this stream');
  }
  return generate(deps, {
    ...facts,
    ...(body.title !== undefined && { title: body.title }),
    ...(body.category !== undefined && { category: body.category }),
  });
}

/**
 * `PUT /channels/:channelId/image`: the owner or an admin uploads the channel's image. It is
 * validated and re-encoded before anything is written; a live stream gets new thumbnails from it.
 */
export async function uploadChannelImage(
  deps: ThumbnailDeps,
  caller: Caller,
  channelId: string,
  body: Buffer,
  contentType: string,
): Promise<thumbnail.ChannelImage> {
  const user = caller.user;
  if (!user) throw new AppError('unauthorized', 'log in first: this needs a user');
  const channel = await deps.contents.channel({ params: { id: channelId } });
  if (channel.ownerId !== user.id && !user.roles.includes('admin')) {
    throw new AppError('forbidden', "only the channel's owner or an admin may change its image");
  }
  const image = await deps.renders.run(() => normalizeImage(body, contentType, deps.config.upload));
  const key = `channels/${channelId}/${etagOf(image.data)}-${randomBytes(4).toString('hex')}.webp`;
  const updatedAt = new Date();
  await deps.storage.put(key, image.data, 'image/webp');
  const replaced = await deps.db.transaction().execute((trx) =>
    repo.replaceChannelImage(trx, {
      channel_id: channelId,
      storage_key: key,
      width: image.width,
      height: image.height,
      bytes: image.data.length,
      uploaded_by: user.id,
      updated_at: updatedAt,
    }),
  );
  if (replaced) await deleteQuietly(deps, [replaced]);
  if (channel.liveStreamId) {
    const streamId = channel.liveStreamId;
    deps.pending.track(
      streamFacts(deps, streamId)
        .then(({ stream: _, ...facts }) => generate(deps, facts))
        .catch((err: unknown) => deps.log.warn({ err, streamId }, 'thumbnails of the live stream not regenerated')),
    );
  }
  return {
    channelId,
    width: image.width,
    height: image.height,
    bytes: image.data.length,
    updatedAt: updatedAt.toISOString(),
  };
}

/**
 * `PUT /streams/:streamId/frame`: ingest sends a frame of the live video; it is validated like an
 * upload, then becomes the stream's thumbnails (new URLs: they carry the content hash).
 */
export async function liveFrame(deps: ThumbnailDeps, caller: Caller, streamId: string, body: Buffer) {
  if (caller.service !== 'ingest' || caller.user) throw new AppError('forbidden', 'only ingest sends live frames');
  const image = await deps.renders.run(() => normalizeImage(body, 'image/jpeg', deps.config.upload));
  return generate(deps, { streamId, channelId: null, title: '', category: null, imageUrl: null }, image.data);
}

export async function listThumbnails(deps: ThumbnailDeps, streamIds: readonly string[]) {
  return toStreamThumbnails(deps.config, await repo.findThumbnails(deps.db, streamIds));
}

/** The bytes of one thumbnail; a second look covers a file replaced between the row read and the file read. */
export async function readThumbnail(deps: ThumbnailDeps, streamId: string, size: string, format: Format) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const row = await repo.findThumbnail(deps.db, streamId, size, format);
    if (!row) return undefined;
    const data = await deps.storage.get(row.storage_key);
    if (data) return { etag: row.etag, data };
  }
  return undefined;
}

/** Only the `etag` lookup, for conditional requests that need no bytes. */
export async function currentEtag(deps: ThumbnailDeps, streamId: string, size: string, format: Format) {
  return (await repo.findThumbnail(deps.db, streamId, size, format))?.etag;
}

export function thumbnailUrl(
  config: ThumbnailConfig,
  row: Pick<ThumbnailRow, 'stream_id' | 'size' | 'format' | 'etag'>,
) {
  return `${config.publicBaseUrl}/thumbnails/${row.stream_id}/${row.size}.${row.format}?v=${row.etag}`;
}

function toStreamThumbnails(config: ThumbnailConfig, rows: readonly ThumbnailRow[]): thumbnail.StreamThumbnails[] {
  const byStream = new Map<string, thumbnail.StreamThumbnails>();
  for (const row of rows) {
    let set = byStream.get(row.stream_id);
    if (!set) {
      set = { streamId: row.stream_id, source: row.source, generatedAt: row.generated_at.toISOString(), items: [] };
      byStream.set(row.stream_id, set);
    }
    set.items.push({
      size: row.size,
      format: row.format,
      width: row.width,
      height: row.height,
      bytes: row.bytes,
      url: thumbnailUrl(config, row),
    });
  }
  return [...byStream.values()];
}

async function deleteQuietly(deps: ThumbnailDeps, keys: string[]) {
  if (keys.length === 0) return;
  // A file left behind costs storage, not correctness: no row names it any more.
  await deps.storage.delete(keys).catch((err: unknown) => deps.log.warn({ err, keys }, 'stale files not deleted'));
}
