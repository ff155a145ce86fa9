import { thumbnail } from '@livehouse/contracts';
import { AppError, ifNoneMatch, notFound, type ServiceApp } from '@livehouse/kit';
import { CONTENT_TYPES } from './image.ts';
import type { ThumbnailDeps } from './thumbnail.service.ts';
import * as service from './thumbnail.service.ts';

const YEAR = 365 * 24 * 3600;
const UPLOAD_TYPES: readonly string[] = thumbnail.UPLOAD_CONTENT_TYPES;

export async function thumbnailRoutes(app: ServiceApp, deps: ThumbnailDeps) {
  app.post(
    '/streams/:streamId/thumbnails',
    {
      schema: {
        params: thumbnail.StreamParams,
        body: thumbnail.GenerateBody,
        response: { 200: thumbnail.StreamThumbnails },
      },
    },
    async (request) => service.generateOnDemand(deps, request.caller, request.params.streamId, request.body ?? {}),
  );

  app.get(
    '/streams/:streamId/thumbnails',
    { schema: { params: thumbnail.StreamParams, response: { 200: thumbnail.StreamThumbnails } } },
    async (request) => {
      const [set] = await service.listThumbnails(deps, [request.params.streamId]);
      if (!set) throw notFound('thumbnails of this stream');
      return set;
    },
  );

  // Batch lookup for stream lists: one statement for up to 100 streams; streams without thumbnails are absent.
  app.get(
    '/thumbnails',
    { schema: { querystring: thumbnail.BatchQuery, response: { 200: thumbnail.StreamThumbnailsList } } },
    async (request) => {
      const ids = [...new Set(request.query.streamIds.toLowerCase().split(','))];
      return { items: await service.listThumbnails(deps, ids) };
    },
  );

  // The file itself. `?v=<etag>` URLs are immutable (a new image gets a new etag, so a new URL).
  app.get(
    '/thumbnails/:streamId/:size.:format',
    { schema: { params: thumbnail.FileParams, querystring: thumbnail.FileQuery } },
    async (request, reply) => {
      const { streamId, size, format } = request.params;
      const header = request.headers['if-none-match'];
      if (header) {
        const etag = await service.currentEtag(deps, streamId, size, format);
        if (etag && ifNoneMatch(header, `"${etag}"`)) {
          return reply.code(304).headers(cacheHeaders(etag, request.query.v)).send();
        }
      }
      const file = await service.readThumbnail(deps, streamId, size, format);
      if (!file) throw notFound(`the ${size} ${format} thumbnail of this stream`);
      return reply
        .headers({
          'content-type': CONTENT_TYPES[format],
          'content-length': String(file.data.length),
          'x-content-type-options': 'nosniff',
          ...cacheHeaders(file.etag, request.query.v),
        })
        .send(file.data);
    },
  );

  // The upload takes raw image bytes: its own scope with its own body parsers and size limit.
  await app.register(async (plugin) => {
    const scope = plugin as unknown as ServiceApp;
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(UPLOAD_TYPES as string[], { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
    scope.addContentTypeParser('*', (request, _payload, done) =>
      done(
        new AppError(
          'unsupported_media_type',
          `send the image as ${UPLOAD_TYPES.join(', ')} (got ${request.headers['content-type'] ?? 'no Content-Type'})`,
        ),
        undefined,
      ),
    );
    scope.put(
      '/channels/:channelId/image',
      {
        bodyLimit: deps.config.upload.maxBytes,
        schema: { params: thumbnail.ChannelParams, response: { 200: thumbnail.ChannelImage } },
      },
      async (request) => {
        const contentType = mediaType(request.headers['content-type']);
        if (!Buffer.isBuffer(request.body) || !contentType || !UPLOAD_TYPES.includes(contentType)) {
          throw new AppError('unsupported_media_type', `send the image as ${UPLOAD_TYPES.join(', ')}`);
        }
        if (request.body.length === 0) throw new AppError('bad_request', 'the body is empty: send the image');
        return service.uploadChannelImage(deps, request.caller, request.params.channelId, request.body, contentType);
      },
    );
    scope.put(
      '/streams/:streamId/frame',
      {
        bodyLimit: deps.config.upload.maxBytes,
        schema: { params: thumbnail.StreamParams, response: { 200: thumbnail.StreamThumbnails } },
      },
      async (request) => {
        if (!Buffer.isBuffer(request.body) || mediaType(request.headers['content-type']) !== 'image/jpeg') {
          throw new AppError('unsupported_media_type', 'send the frame as image/jpeg');
        }
        return service.liveFrame(deps, request.caller, request.params.streamId, request.body);
      },
    );
  });
}

const mediaType = (header: string | undefined) => header?.split(';')[0]?.trim().toLowerCase();

function cacheHeaders(etag: string, version: string | undefined) {
  let cacheControl = 'public, max-age=60';
  if (version === etag) cacheControl = `public, max-age=${YEAR}, immutable`;
  // An old versioned URL gets today's image, which must not be cached under the old name.
  else if (version !== undefined) cacheControl = 'no-cache';
  return { etag: `"${etag}"`, 'cache-control': cacheControl };
}
