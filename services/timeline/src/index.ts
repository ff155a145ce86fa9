import { defineService } from '@livehouse/kit';
import type { TimelineDatabase } from './db.ts';
import * as init from './migrations/0001_timeline.ts';
import { TimelineConfig } from './timeline.config.ts';
import { timelineRoutes } from './timeline.routes.ts';
import * as timeline from './timeline.service.ts';

/** Home timelines, built from events: follows (user) and streams going live (contents). */
export const timelineService = defineService<{ timeline: typeof TimelineConfig }, TimelineDatabase>({
  name: 'timeline',
  config: { timeline: TimelineConfig },
  migrations: { '0001_timeline': init },
  dependsOn: [],
  routes: async (app, ctx) => timelineRoutes(app, ctx.db),
  consumes: {
    'stream.started': (trx, event, ctx) => timeline.streamStarted(trx, event, ctx.config.timeline),
    'stream.ended': (trx, event) => timeline.streamEnded(trx, event),
    'user.followed': (trx, event, ctx) => timeline.followed(trx, event, ctx.config.timeline),
    'user.unfollowed': (trx, event) => timeline.unfollowed(trx, event),
  },
});
