import { contents } from '@livehouse/contracts';
import { requireService, type ServiceApp } from '@livehouse/kit';
import type { Kysely } from 'kysely';
import * as service from './contents.service.ts';
import type { ContentsDatabase } from './db.ts';

/** Services that may report viewer counts (the BFF never may): ingest/edge/chat later, the demo seeder now. */
export const VIEWER_COUNT_CALLERS = ['ingest', 'edge', 'chat', 'seed'];
/** Services that may turn a stream key into a channel: only ingest. */
export const STREAM_KEY_CALLERS = ['ingest'];

export async function contentsRoutes(app: ServiceApp, db: Kysely<ContentsDatabase>) {
  // ── categories ────────────────────────────────────────────────────────────────────
  app.get('/categories', { schema: { response: { 200: contents.CategoryList } } }, async () => service.categories(db));

  app.get(
    '/categories/:slug',
    { schema: { params: contents.SlugParams, response: { 200: contents.Category } } },
    async (request) => service.category(db, request.params.slug),
  );

  app.post(
    '/categories',
    { schema: { body: contents.CreateCategoryBody, response: { 201: contents.Category } } },
    async (request, reply) => reply.code(201).send(await service.createCategory(db, request.caller, request.body)),
  );

  // ── channels ──────────────────────────────────────────────────────────────────────
  app.post(
    '/channels',
    { schema: { body: contents.CreateChannelBody, response: { 201: contents.CreatedChannel } } },
    async (request, reply) => reply.code(201).send(await service.createChannel(db, request.caller, request.body)),
  );

  // Batch lookup: one statement for up to 100 ids; unknown ids are simply absent.
  app.get(
    '/channels',
    { schema: { querystring: contents.BatchQuery, response: { 200: contents.ChannelList } } },
    async (request) => service.channels(db, parseIds(request.query.ids)),
  );

  app.get(
    '/channels/:id',
    { schema: { params: contents.IdParams, response: { 200: contents.Channel } } },
    async (request) => service.channel(db, request.params.id),
  );

  app.get(
    '/channels/by-owner/:userId',
    { schema: { params: contents.OwnerParams, response: { 200: contents.Channel } } },
    async (request) => service.channelByOwner(db, request.params.userId),
  );

  app.patch(
    '/channels/:id',
    { schema: { params: contents.IdParams, body: contents.UpdateChannelBody, response: { 200: contents.Channel } } },
    async (request) => service.updateChannel(db, request.caller, request.params.id, request.body),
  );

  // Shows the new key once; the old one stops working at once.
  app.post(
    '/channels/:id/stream-key',
    { schema: { params: contents.IdParams, response: { 200: contents.StreamKey } } },
    async (request) => service.regenerateStreamKey(db, request.caller, request.params.id),
  );

  app.post(
    '/stream-keys/verify',
    { schema: { body: contents.VerifyStreamKeyBody, response: { 200: contents.VerifiedStreamKey } } },
    async (request) => {
      requireService(request.caller, ...STREAM_KEY_CALLERS);
      return service.verifyStreamKey(db, request.body.key);
    },
  );

  app.get(
    '/channels/:id/archives',
    { schema: { params: contents.IdParams, querystring: contents.ListQuery, response: { 200: contents.StreamPage } } },
    async (request) => service.archivePage(db, request.params.id, request.query),
  );

  app.post(
    '/channels/:id/streams',
    { schema: { params: contents.IdParams, body: contents.CreateStreamBody, response: { 201: contents.Stream } } },
    async (request, reply) =>
      reply.code(201).send(await service.createStream(db, request.caller, request.params.id, request.body)),
  );

  // ── streams ───────────────────────────────────────────────────────────────────────
  app.get(
    '/streams',
    { schema: { querystring: contents.BatchQuery, response: { 200: contents.StreamList } } },
    async (request) => service.streams(db, parseIds(request.query.ids)),
  );

  // Live now: most viewers first, optionally in one category.
  app.get(
    '/streams/live',
    { schema: { querystring: contents.LiveQuery, response: { 200: contents.StreamPage } } },
    async (request) => {
      const { categoryId, category } = request.query;
      return service.livePage(db, { categoryId, categorySlug: category }, request.query);
    },
  );

  // Featured: live streams of channels an admin marked `featured`, most viewers first.
  app.get(
    '/streams/featured',
    { schema: { querystring: contents.ListQuery, response: { 200: contents.StreamPage } } },
    async (request) => service.livePage(db, { featuredOnly: true }, request.query),
  );

  app.get(
    '/streams/:id',
    { schema: { params: contents.IdParams, response: { 200: contents.Stream } } },
    async (request) => service.readStream(db, request.params.id),
  );

  for (const action of ['start', 'end'] as const) {
    app.post(
      `/streams/:id/${action}`,
      { schema: { params: contents.IdParams, response: { 200: contents.Stream } } },
      async (request) => service.transition(db, request.caller, request.params.id, action),
    );
  }

  app.put(
    '/streams/:id/viewers',
    {
      schema: { params: contents.IdParams, body: contents.ViewerCountBody, response: { 200: contents.ViewerCount } },
    },
    async (request) => {
      requireService(request.caller, ...VIEWER_COUNT_CALLERS);
      return service.setViewerCount(db, request.params.id, request.body.count);
    },
  );
}

const parseIds = (ids: string) => [...new Set(ids.toLowerCase().split(','))];
