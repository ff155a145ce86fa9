import type { contents, media, point, timeline as tl, user } from '@livehouse/contracts';
import type { Section, SectionContext } from '../compose.ts';

/** Sections more than one view uses. Timeouts are per backend call; the request budget caps them all. */

const emptyPage = { items: [], nextCursor: null };
const me = (ctx: SectionContext) => ctx.user!.id;
const loggedIn = (ctx: SectionContext) => ctx.user !== undefined;
/** Calls made on behalf of the viewer carry them; public reads do not, so they coalesce and cache. */
const asViewer = (ctx: SectionContext) => (ctx.user ? { user: ctx.user } : {});
/** Call options of a section: the request's deadline and the section's own timeout. */
export const opts = (ctx: SectionContext) => ({ deadline: ctx.deadline, timeoutMs: ctx.timeoutMs });
/** The view's path parameter (the view's route declares it, so it is there). */
export const param = (ctx: SectionContext, name: string) => {
  const value = ctx.params[name];
  if (value === undefined) throw new Error(`the view has no path parameter ${name}`);
  return value;
};

export const wallet: Section<point.Wallet | null> = {
  backend: 'point',
  timeoutMs: 250,
  fallback: null,
  when: loggedIn,
  fetch: (ctx) => ctx.backends.point.wallet({ ...opts(ctx), params: { userId: me(ctx) }, user: ctx.user! }),
};

export const catalogVersion: Section<{ version: string } | null> = {
  backend: 'stamp',
  timeoutMs: 200,
  fallback: null,
  cache: { key: () => 'v', ttlMs: 5000 },
  fetch: (ctx) => ctx.backends.stamp.catalogVersion(opts(ctx)),
};

export const liveNow: Section<contents.StreamPage> = {
  backend: 'contents',
  timeoutMs: 300,
  fallback: emptyPage,
  cache: { key: () => 'top', ttlMs: 1000 },
  fetch: (ctx) => ctx.backends.contents.live({ ...opts(ctx), query: { limit: 50 } }),
};

export const featured: Section<contents.StreamPage> = {
  backend: 'contents',
  timeoutMs: 300,
  fallback: emptyPage,
  cache: { key: () => 'top', ttlMs: 5000 },
  fetch: (ctx) => ctx.backends.contents.featured({ ...opts(ctx), query: { limit: 10 } }),
};

export const following: Section<user.FollowPage> = {
  backend: 'user',
  timeoutMs: 250,
  fallback: emptyPage,
  when: loggedIn,
  fetch: (ctx) =>
    ctx.backends.user.following({ ...opts(ctx), params: { id: me(ctx) }, query: { limit: 100 }, ...asViewer(ctx) }),
};

/** One batch lookup for every user a view mentions: never one call per item. */
export function profilesOf(
  dependsOn: string[],
  ids: (results: Record<string, unknown>) => (string | undefined)[],
): Section<Record<string, user.Profile>> {
  return {
    backend: 'user',
    timeoutMs: 250,
    fallback: {},
    dependsOn,
    fetch: async (ctx) => {
      const unique = [...new Set(ids(ctx.results).filter((id): id is string => id !== undefined))].slice(0, 100);
      if (unique.length === 0) return {};
      const list = await ctx.backends.user.batch({
        ...opts(ctx),
        query: { ids: unique.join(',') },
      });
      return Object.fromEntries(list.items.map((p) => [p.id, p]));
    },
  };
}

export const viewerFollows = (
  dependsOn: string,
  ownerOf: (result: unknown) => string | undefined,
): Section<boolean> => ({
  backend: 'user',
  timeoutMs: 200,
  fallback: false,
  dependsOn: [dependsOn],
  when: (ctx) =>
    loggedIn(ctx) && ownerOf(ctx.results[dependsOn]) !== undefined && ownerOf(ctx.results[dependsOn]) !== me(ctx),
  fetch: async (ctx) => {
    const targetId = ownerOf(ctx.results[dependsOn]);
    if (targetId === undefined) return false;
    const state = await ctx.backends.user.followState({
      ...opts(ctx),
      params: { id: me(ctx), targetId },
      user: ctx.user!,
    });
    return state.following;
  },
});

/** "Went live" entries of channels the viewer follows, built by the timeline service from events. */
export const timeline: Section<tl.TimelinePage> = {
  backend: 'timeline',
  timeoutMs: 250,
  fallback: emptyPage,
  when: loggedIn,
  fetch: (ctx) =>
    ctx.backends.timeline.timeline({ ...opts(ctx), params: { id: me(ctx) }, query: { limit: 20 }, user: ctx.user! }),
};

/**
 * Where a player watches a stream (live master or archive VOD), from the edge (which asks ingest):
 * the edge or ingest down makes this section degraded, and the view answers without playback URLs.
 * A BFF without `services.edge` (an API-only deployment) has no media plane: null, not degraded.
 */
export function playback(dependsOn: string, streamIdOf: (result: unknown) => string | null | undefined) {
  return {
    backend: 'edge',
    timeoutMs: 300,
    fallback: null,
    dependsOn: [dependsOn],
    when: (ctx) => Boolean(streamIdOf(ctx.results[dependsOn])),
    fetch: async (ctx) => {
      const streamId = streamIdOf(ctx.results[dependsOn]);
      if (!ctx.backends.edge || !streamId) return null;
      return ctx.backends.edge.status({ ...opts(ctx), params: { streamId } });
    },
  } satisfies Section<media.PlaybackStatus | null>;
}
