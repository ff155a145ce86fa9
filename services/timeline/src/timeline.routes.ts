import { timeline } from '@livehouse/contracts';
import { AppError, decodeCursor, requireSelfOrAdmin, type ServiceApp, toPage } from '@livehouse/kit';
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
      const key = decodeCursor(request.query.cursor, 2);
      const after = key && { at: new Date(Number(key[0])), id: String(key[1]) };
      if (after && (Number.isNaN(after.at.getTime()) || !UUID.test(after.id))) {
        throw new AppError('bad_request', 'the cursor is invalid: pass back a nextCursor exactly as received');
      }
      const rows = await repo.timelinePage(db, id, limit, after);
      const page = toPage(rows, limit, (r) => [r.at.getTime(), r.id]);
      return { items: page.items.map(repo.toItem), nextCursor: page.nextCursor };
    },
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
