import { defineService } from '@livehouse/kit';
import { contentsRoutes } from './contents.routes.ts';
import type { ContentsDatabase } from './db.ts';
import { ingestRoutes } from './ingest.routes.ts';
import * as init from './migrations/0001_channels_and_streams.ts';
import * as archives from './migrations/0002_archives.ts';

/** Categories (games), channels, streams (scheduled → live → ended) and their archives. */
export const contentsService = defineService<Record<never, never>, ContentsDatabase>({
  name: 'contents',
  config: {},
  migrations: { '0001_channels_and_streams': init, '0002_archives': archives },
  dependsOn: [],
  produces: ['channel.created', 'stream.started', 'stream.ended'],
  routes: async (app, ctx) => {
    await contentsRoutes(app, ctx.db);
    // Its own scope: the ingest-only hook applies to these routes alone.
    await app.register(async (scope) => ingestRoutes(scope as unknown as typeof app, ctx.db));
  },
});
