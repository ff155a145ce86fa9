import { contents } from '@livehouse/contracts';
import { requireService, type ServiceApp } from '@livehouse/kit';
import type { Kysely } from 'kysely';
import type { ContentsDatabase } from './db.ts';
import * as service from './ingest.service.ts';

/** Only ingest: an RTMP publish (its key already verified) drives the channel's stream. */
export const INGEST_CALLERS = ['ingest'];

export async function ingestRoutes(app: ServiceApp, db: Kysely<ContentsDatabase>) {
  app.addHook('preHandler', async (request) => requireService(request.caller, ...INGEST_CALLERS));

  app.post(
    '/ingest/channels/:id/live',
    { schema: { params: contents.IdParams, response: { 200: contents.Stream } } },
    async (request) => service.goLive(db, request.params.id),
  );

  app.post(
    '/ingest/streams/:id/end',
    { schema: { params: contents.IdParams, response: { 200: contents.Stream } } },
    async (request) => service.endLive(db, request.params.id),
  );

  app.put(
    '/ingest/streams/:id/archive',
    { schema: { params: contents.IdParams, body: contents.RegisterArchiveBody, response: { 200: contents.Stream } } },
    async (request) => service.registerArchive(db, request.params.id, request.body.durationSeconds),
  );
}
