import { randomUUID } from 'node:crypto';
import { IdempotencyRouteHeaders, stamp } from '@livehouse/contracts';
import { forbidden, idempotencyKey, ifNoneMatch, requireUser, type ServiceApp } from '@livehouse/kit';
import { Type } from 'typebox';
import type { Catalog } from './catalog.service.ts';
import { type SendDeps, sendStamp } from './send.service.ts';
import * as repo from './stamp.repository.ts';

export async function stampRoutes(app: ServiceApp, deps: SendDeps & { catalog: Catalog }) {
  const { db, catalog } = deps;

  // The whole catalog, once per version: clients send If-None-Match and usually get a 304.
  app.get('/catalog', { schema: { response: { 200: stamp.Catalog, 304: Type.Null() } } }, async (request, reply) => {
    const snapshot = await catalog.current();
    reply.header('etag', snapshot.etag).header('cache-control', 'no-cache');
    if (ifNoneMatch(request.headers['if-none-match'], snapshot.etag)) return reply.code(304).send(null);
    return snapshot.catalog;
  });

  // For the BFF: decide whether a client's cached catalog is current without fetching it.
  app.get('/catalog/version', { schema: { response: { 200: stamp.CatalogVersion } } }, async () => ({
    version: (await catalog.current()).catalog.version,
  }));

  app.post(
    '/stamps',
    { schema: { body: stamp.CreateStampBody, response: { 201: stamp.Stamp } } },
    async (request, reply) => {
      if (!requireUser(request.caller).roles.includes('admin')) throw forbidden('only admins add stamps');
      const { name, imageUrl, category, price } = request.body;
      const channelId = request.body.channelId ?? null;
      // A channel-only stamp needs a real channel: 404 from contents otherwise.
      if (channelId) await deps.contents.get(`/channels/${channelId}`);
      const row = await repo.insertStamp(db, { id: randomUUID(), name, imageUrl, category, price, channelId });
      return reply.code(201).send(catalog.toStamp(row));
    },
  );

  app.post(
    '/streams/:streamId/stamps',
    {
      schema: {
        params: stamp.StreamParams,
        headers: IdempotencyRouteHeaders,
        body: stamp.SendStampBody,
        response: { 201: stamp.SentStamp },
      },
    },
    async (request, reply) => {
      const key = idempotencyKey(request.headers);
      const { sent, replayed } = await sendStamp(
        deps,
        request.caller,
        request.params.streamId,
        request.body.stampId,
        key,
      );
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send(sent);
    },
  );

  app.get(
    '/streams/:streamId/supporters',
    {
      schema: {
        params: stamp.StreamParams,
        querystring: stamp.SupportersQuery,
        response: { 200: stamp.SupporterList },
      },
    },
    async (request) => {
      const rows = await repo.topSupporters(db, request.params.streamId, request.query.limit ?? 10);
      return { items: rows.map((r) => ({ userId: r.user_id, points: r.points, stamps: r.stamps })) };
    },
  );
}
