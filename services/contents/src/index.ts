import { defineService } from '@livehouse/kit';
import { contentsRoutes } from './contents.routes.ts';
import type { ContentsDatabase } from './db.ts';
import * as init from './migrations/0001_channels_and_streams.ts';

/** Categories (games), channels, streams (scheduled → live → ended) and their archives. */
export const contentsService = defineService<Record<never, never>, ContentsDatabase>({
  name: 'contents',
  config: {},
  migrations: { '0001_channels_and_streams': init },
  dependsOn: [],
  produces: ['channel.created', 'stream.started', 'stream.ended'],
  routes: async (app, ctx) => contentsRoutes(app, ctx.db),
});
