import { media } from '@livehouse/contracts';
import { AppError, notFound, type ServiceApp } from '@livehouse/kit';
import type { FastifyReply } from 'fastify';
import type { EdgeConfig } from './config.ts';
import type { EdgeCache, Entry, Kind, Served } from './edge.service.ts';

const YEAR = 31_536_000;

/** Cache-Control for players and a CDN in front: segments forever, live playlists about half a segment. */
function cacheControl(kind: Kind, entry: Entry) {
  if (kind === 'segment') return `public, max-age=${YEAR}, immutable`;
  if (kind === 'status') return 'no-store';
  if (kind === 'master') return 'public, max-age=2';
  if (entry.body.includes('#EXT-X-ENDLIST')) return 'public, max-age=60';
  return 'public, max-age=1';
}

/** HLS for players: playlists and segments of live streams and archives, from the cache or the origin. */
export async function edgeRoutes(app: ServiceApp, cache: EdgeCache, config: EdgeConfig) {
  const allowAll = config.corsOrigins.includes('*');
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (allowAll) reply.header('access-control-allow-origin', '*');
    else if (origin && config.corsOrigins.includes(origin)) {
      reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    }
    reply.header('access-control-expose-headers', 'content-length, age');
  });
  // CORS preflight (a player sending Range or custom headers).
  app.options('/streams/*', async (_request, reply) =>
    reply
      .header('access-control-allow-methods', 'GET, HEAD, OPTIONS')
      .header('access-control-allow-headers', 'range, content-type')
      .header('access-control-max-age', '86400')
      .code(204)
      .send(),
  );

  const answer = (reply: FastifyReply, kind: Kind, entry: Served) => {
    if (entry.status === 404) throw notFound('this media file (the stream may not be live yet, or has no archive)');
    if (entry.status === 400) throw new AppError('bad_request', parseMessage(entry.body) ?? 'bad media request');
    if (entry.status !== 200) throw new AppError('service_unavailable', 'the origin is unavailable: retry shortly');
    cache.metrics.bytes.inc({ kind }, entry.body.length);
    return reply
      .headers({
        'content-type': entry.contentType,
        'cache-control': cacheControl(kind, entry),
        'x-cache': entry.cache.toUpperCase(),
      })
      .send(entry.body);
  };

  app.get('/streams/:streamId/master.m3u8', { schema: { params: media.StreamParams } }, async (request, reply) =>
    answer(reply, 'master', await cache.get('master', `/streams/${request.params.streamId}/master.m3u8`)),
  );

  app.get('/streams/:streamId/archive.m3u8', { schema: { params: media.StreamParams } }, async (request, reply) =>
    answer(reply, 'archive', await cache.get('archive', `/streams/${request.params.streamId}/archive.m3u8`)),
  );

  // For the BFF's views: what plays now and where (a dead origin makes this 503, so the view says degraded).
  app.get(
    '/streams/:streamId/status',
    { schema: { params: media.StreamParams, response: { 200: media.PlaybackStatus } } },
    async (request, reply): Promise<media.PlaybackStatus> => {
      const { streamId } = request.params;
      const entry = await cache.get('status', `/streams/${streamId}/status`);
      if (entry.status !== 200) return answer(reply, 'status', entry) as never;
      const origin = JSON.parse(entry.body.toString('utf8')) as media.OriginStatus;
      const baseUrl = config.publicBaseUrl || `${request.protocol}://${request.host}`;
      reply.header('cache-control', 'no-store');
      return {
        ...origin,
        baseUrl,
        liveUrl: origin.live ? baseUrl + media.mediaPaths.master(streamId) : null,
        vodUrl: origin.archive ? baseUrl + media.mediaPaths.archive(streamId) : null,
      };
    },
  );

  app.get(
    '/streams/:streamId/:rendition/index.m3u8',
    { schema: { params: media.MediaParams, querystring: media.BlockingQuery } },
    async (request, reply) => {
      const path = `/streams/${request.params.streamId}/${request.params.rendition}/index.m3u8`;
      const msn = request.query._HLS_msn;
      const entry =
        msn === undefined
          ? await cache.get('playlist', path)
          : await cache.blocking(path, msn, (body) => media.lastSequence(body.toString('utf8')));
      return answer(reply, 'playlist', entry);
    },
  );

  app.get(
    '/streams/:streamId/:rendition/:file',
    { schema: { params: media.SegmentParams } },
    async (request, reply) => {
      const { streamId, rendition, file } = request.params;
      return answer(reply, 'segment', await cache.get('segment', `/streams/${streamId}/${rendition}/${file}`));
    },
  );
}

function parseMessage(body: Buffer) {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: { message?: unknown } };
    return typeof parsed.error?.message === 'string' ? parsed.error.message : undefined;
  } catch {
    return undefined;
  }
}
