import { contents } from '@livehouse/contracts';
import {
  AppError,
  decodeCursor,
  notFound,
  pgErrorCode,
  requireService,
  requireUser,
  type ServiceApp,
  toPage,
} from '@livehouse/kit';
import type { Kysely } from 'kysely';
import type { Static } from 'typebox';
import * as repo from './contents.repository.ts';
import * as service from './contents.service.ts';
import type { ContentsDatabase } from './db.ts';

/** Services that may report viewer counts (the BFF never may): ingest/edge/chat later, the demo seeder now. */
export const VIEWER_COUNT_CALLERS = ['ingest', 'edge', 'chat', 'seed'];
/** Services that may turn a stream key into a channel: only ingest. */
export const STREAM_KEY_CALLERS = ['ingest'];

export async function contentsRoutes(app: ServiceApp, db: Kysely<ContentsDatabase>) {
  // ── categories ────────────────────────────────────────────────────────────────────
  app.get('/categories', { schema: { response: { 200: contents.CategoryList } } }, async () => ({
    items: (await repo.listCategories(db)).map(repo.toCategory),
  }));

  app.get(
    '/categories/:slug',
    { schema: { params: contents.SlugParams, response: { 200: contents.Category } } },
    async (request) => {
      const row = await repo.findCategoryBySlug(db, request.params.slug);
      if (!row) throw notFound(`the category ${request.params.slug}`);
      return repo.toCategory(row);
    },
  );

  app.post(
    '/categories',
    { schema: { body: contents.CreateCategoryBody, response: { 201: contents.Category } } },
    async (request, reply) => {
      if (!requireUser(request.caller).roles.includes('admin'))
        throw new AppError('forbidden', 'only admins add categories');
      const row = await repo.insertCategory(db, request.body).catch((err: unknown) => {
        throw pgErrorCode(err) === '23505' ? new AppError('conflict', `the slug ${request.body.slug} is taken`) : err;
      });
      return reply.code(201).send(repo.toCategory(row));
    },
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
    async (request) => ({ items: (await repo.findChannels(db, parseIds(request.query.ids))).map(repo.toChannel) }),
  );

  app.get(
    '/channels/:id',
    { schema: { params: contents.IdParams, response: { 200: contents.Channel } } },
    async (request) => {
      const row = await repo.findChannel(db, request.params.id);
      if (!row) throw notFound('the channel');
      return repo.toChannel(row);
    },
  );

  app.get(
    '/channels/by-owner/:userId',
    { schema: { params: contents.OwnerParams, response: { 200: contents.Channel } } },
    async (request) => {
      const row = await repo.findChannelByOwner(db, request.params.userId);
      if (!row) throw notFound('a channel of this user');
      return repo.toChannel(row);
    },
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
    async (request) => archivePage(db, request.params.id, request.query),
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
    async (request) => ({ items: (await repo.findStreams(db, parseIds(request.query.ids))).map(repo.toStream) }),
  );

  // Live now: most viewers first, optionally in one category.
  app.get(
    '/streams/live',
    { schema: { querystring: contents.LiveQuery, response: { 200: contents.StreamPage } } },
    async (request) => {
      const { categoryId, category } = request.query;
      return livePage(db, { categoryId, categorySlug: category }, request.query);
    },
  );

  // Featured: live streams of channels an admin marked `featured`, most viewers first.
  app.get(
    '/streams/featured',
    { schema: { querystring: contents.ListQuery, response: { 200: contents.StreamPage } } },
    async (request) => livePage(db, { featuredOnly: true }, request.query),
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

async function livePage(
  db: Kysely<ContentsDatabase>,
  filter: repo.LiveFilter,
  query: Static<typeof contents.ListQuery>,
) {
  const limit = query.limit ?? 20;
  const key = decodeCursor(query.cursor, 2);
  const after = key && { viewers: cursorInt(key[0]), id: cursorId(key[1]) };
  const rows = await repo.listLive(db, filter, limit, after);
  // An empty first page for an unknown category slug is a 404; only then does it cost a second statement.
  if (rows.length === 0 && !after && filter.categorySlug && !(await repo.findCategoryBySlug(db, filter.categorySlug))) {
    throw notFound(`the category ${filter.categorySlug}`);
  }
  const page = toPage(rows, limit, (r) => [r.viewer_count, r.id]);
  return { items: page.items.map(repo.toStream), nextCursor: page.nextCursor };
}

async function archivePage(db: Kysely<ContentsDatabase>, channelId: string, query: Static<typeof contents.ListQuery>) {
  const limit = query.limit ?? 20;
  const key = decodeCursor(query.cursor, 2);
  const after = key && { endedAt: new Date(cursorInt(key[0])), id: cursorId(key[1]) };
  const rows = await repo.listArchives(db, channelId, limit, after);
  if (rows.length === 0 && !after && !(await repo.findChannelOwner(db, channelId))) throw notFound('the channel');
  const page = toPage(rows, limit, (r) => [(r.ended_at as Date).getTime(), r.id]);
  return { items: page.items.map(repo.toStream), nextCursor: page.nextCursor };
}

// Cursors are opaque but come from clients: a forged one is a 400, never a SQL error.
const badCursor = () =>
  new AppError('bad_request', 'the cursor is invalid: pass back a nextCursor exactly as received');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function cursorInt(v: string | number | undefined) {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badCursor();
  return v;
}
function cursorId(v: string | number | undefined) {
  if (typeof v !== 'string' || !UUID.test(v)) throw badCursor();
  return v;
}
