import { timeline } from '@livehouse/contracts';
import { decodeCursor, requireSelfOrAdmin, type ServiceApp, toPage } from '@livehouse/kit';
import type { Kysely } from 'kysely';
import type { TimelineDatabase } from './db.ts';
import * as repo from './timeline.repository.ts';

export async function timelineRoutes(app: ServiceApp, db: Kysely<TimelineDatabase>) {
  // A user's home timeline, newest first. The user themself or an admin; a service (the BFF) may read any.
  app.get(
    '/users/:id/timeline',
    {
      schema: {
        params: timeline.UserParams,
        querystring: timeline.TimelineQuery,
        response: { 200: timeline.TimelinePage },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (request.caller.user) requireSelfOrAdmin(request.caller, id);
      const limit = request.query.limit ?? 20;
      const key = decodeCursor(request.query.cursor, ['time', 'uuid']);
      const after = key && { at: key[0], id: key[1] };
      const rows = await repo.timelinePage(db, id, limit, after);
      const page = toPage(rows, limit, (r) => [r.at, r.id]);
      return { items: page.items.map(repo.toItem), nextCursor: page.nextCursor };
    },
  );
}
