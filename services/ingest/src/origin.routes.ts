import { media } from '@livehouse/contracts';
import { AppError, notFound, type ServiceApp } from '@livehouse/kit';
import type { ObjectStorage } from '@livehouse/kit/storage';
import type { IngestConfig } from './config.ts';
import type { Ingest } from './ingest.service.ts';
import { keys, M3U8, TS } from './live.ts';

/**
 * The origin the edge pulls from (internal token required, like every backend route): playlists and
 * segments from storage, so any ingest instance serves any stream. Playlists are never cached here.
 */
export async function originRoutes(
  app: ServiceApp,
  deps: { storage: ObjectStorage; ingest: Ingest; config: IngestConfig },
) {
  const { storage } = deps;
  const send = async (key: string, type: string, cacheControl: string) => {
    const body = await storage.get(key);
    if (!body) throw notFound('this media file (the stream may not be live yet)');
    return { body, type, cacheControl };
  };

  app.get(
    '/media/streams/:streamId/master.m3u8',
    { schema: { params: media.StreamParams } },
    async (request, reply) => {
      const file = await send(keys.master(request.params.streamId), M3U8, 'no-cache');
      return reply.headers(h(file)).send(file.body);
    },
  );

  // What a player can watch: the BFF asks through the edge, so a dead edge or ingest shows as degraded.
  app.get(
    '/media/streams/:streamId/status',
    { schema: { params: media.StreamParams } },
    async (request): Promise<media.OriginStatus> => {
      const { streamId } = request.params;
      const [master, archive] = await Promise.all([
        storage.get(keys.master(streamId)),
        storage.get(keys.archive(streamId)),
      ]);
      const live = deps.ingest.lives.get(streamId);
      return {
        streamId,
        live: master !== undefined && !(archive?.includes('#EXT-X-ENDLIST') ?? false),
        publishing: live?.state === 'publishing',
        archive: archive !== undefined,
        archiveFinal: archive?.includes('#EXT-X-ENDLIST') ?? false,
      };
    },
  );

  app.get(
    '/media/streams/:streamId/archive.m3u8',
    { schema: { params: media.StreamParams } },
    async (request, reply) => {
      const file = await send(keys.archive(request.params.streamId), M3U8, 'no-cache');
      return reply.headers(h(file)).send(file.body);
    },
  );

  app.get(
    '/media/streams/:streamId/:rendition/index.m3u8',
    { schema: { params: media.MediaParams, querystring: media.BlockingQuery } },
    async (request, reply) => {
      const { streamId, rendition } = request.params;
      const key = keys.media(streamId, rendition);
      let file = await send(key, M3U8, 'no-cache');
      const msn = request.query._HLS_msn;
      if (msn !== undefined) {
        const last = media.lastSequence(file.body.toString('utf8'));
        // LL-HLS: a request more than two segments ahead is a client error, answered at once.
        if (msn > last + 2)
          throw new AppError('bad_request', `_HLS_msn ${msn} is too far ahead (the newest is ${last})`);
        if (msn > last && (await deps.ingest.waitForSegment(streamId, rendition, msn, deps.config.blockingReloadMs))) {
          file = await send(key, M3U8, 'no-cache');
        }
      }
      return reply.headers(h(file)).send(file.body);
    },
  );

  app.get(
    '/media/streams/:streamId/:rendition/:file',
    { schema: { params: media.SegmentParams } },
    async (request, reply) => {
      const { streamId, rendition, file } = request.params;
      const seq = Number(file.slice(0, -3));
      const found = await send(keys.segment(streamId, rendition, seq), TS, 'public, max-age=31536000, immutable');
      return reply.headers(h(found)).send(found.body);
    },
  );
}

const h = (file: { type: string; cacheControl: string }) => ({
  'content-type': file.type,
  'cache-control': file.cacheControl,
});
