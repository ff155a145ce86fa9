import { type Static, Type } from 'typebox';
import { CursorQuery, Id, Page } from './common.ts';
import { route } from './routes.ts';

const Timestamp = Type.String({ format: 'date-time' });

/** One entry of a home timeline: for now, "a channel you follow went live". */
export const TimelineItem = Type.Object({
  /** Stable id of the entry (the id of the event that made it). */
  id: Id,
  type: Type.Literal('stream.started'),
  streamId: Id,
  channelId: Id,
  /** The channel's owner: the user that was followed. */
  ownerId: Id,
  title: Type.String(),
  categoryId: Type.Union([Id, Type.Null()]),
  /** When the stream started; the timeline is ordered by it, newest first. */
  at: Timestamp,
  /** Still live (no stream.ended seen yet). */
  live: Type.Boolean(),
  endedAt: Type.Union([Timestamp, Type.Null()]),
});
export type TimelineItem = Static<typeof TimelineItem>;

export const TimelinePage = Page(TimelineItem);
export type TimelinePage = Static<typeof TimelinePage>;

export const TimelineQuery = CursorQuery;
export const UserParams = Type.Object({ id: Id });

/** The internal API other services call (the kit generates `clients.timeline` from it). */
export const routes = {
  timeline: route({
    method: 'GET',
    path: '/users/:id/timeline',
    params: UserParams,
    query: TimelineQuery,
    response: TimelinePage,
  }),
};
