import type { contents, stamp, user } from '@livehouse/contracts';
import type { Sections } from '../compose.ts';
import * as s from './sections.ts';

type Page<T> = { items: T[]; nextCursor: string | null };
const streamsIn = (...pages: unknown[]) => pages.flatMap((p) => (p as Page<contents.Stream>).items);

/**
 * Every view of the BFF, as data: its sections, their backends, timeouts, fallbacks and what is
 * required. The client shapes (./shapes.ts) turn the same sections into app and web answers.
 */
export const views = {
  home: {
    liveNow: s.liveNow,
    featured: s.featured,
    following: s.following,
    catalogVersion: s.catalogVersion,
    wallet: s.wallet,
    timeline: s.timeline,
    streamers: s.profilesOf(['liveNow', 'featured', 'timeline'], (r) => [
      ...streamsIn(r.liveNow, r.featured).map((x) => x.ownerId),
      ...(r.timeline as Page<{ ownerId: string }>).items.map((x) => x.ownerId),
    ]),
  },

  stream: {
    stream: {
      backend: 'contents',
      timeoutMs: 300,
      required: true,
      fallback: null,
      fetch: (ctx) => ctx.backends.contents.stream({ ...s.opts(ctx), params: { id: s.param(ctx, 'id') } }),
    },
    channel: {
      backend: 'contents',
      timeoutMs: 250,
      fallback: null,
      dependsOn: ['stream'],
      fetch: (ctx) =>
        ctx.backends.contents.channel({
          ...s.opts(ctx),
          params: { id: (ctx.results.stream as contents.Stream).channelId },
        }),
    },
    streamer: {
      backend: 'user',
      timeoutMs: 250,
      fallback: null,
      dependsOn: ['stream'],
      fetch: (ctx) =>
        ctx.backends.user.profile({ ...s.opts(ctx), params: { id: (ctx.results.stream as contents.Stream).ownerId } }),
    },
    viewerFollows: s.viewerFollows('stream', (r) => (r as contents.Stream | null)?.ownerId),
    // Only the version: clients fetch the catalog itself once (GET /stamps/catalog, by ETag).
    catalog: s.catalogVersion,
    supporters: {
      backend: 'stamp',
      timeoutMs: 250,
      fallback: { items: [] },
      fetch: (ctx) =>
        ctx.backends.stamp.supporters({
          ...s.opts(ctx),
          params: { streamId: s.param(ctx, 'id') },
          query: { limit: 10 },
        }),
    },
    supporterProfiles: s.profilesOf(['supporters'], (r) =>
      (r.supporters as stamp.SupporterList).items.map((x) => x.userId),
    ),
    wallet: s.wallet,
    playback: s.playback('stream', (r) => (r as contents.Stream | null)?.id),
  },

  channel: {
    channel: {
      backend: 'contents',
      timeoutMs: 300,
      required: true,
      fallback: null,
      fetch: (ctx) => ctx.backends.contents.channel({ ...s.opts(ctx), params: { id: s.param(ctx, 'id') } }),
    },
    streamer: {
      backend: 'user',
      timeoutMs: 250,
      fallback: null,
      dependsOn: ['channel'],
      fetch: (ctx) =>
        ctx.backends.user.profile({
          ...s.opts(ctx),
          params: { id: (ctx.results.channel as contents.Channel).ownerId },
        }),
    },
    liveStream: {
      backend: 'contents',
      timeoutMs: 250,
      fallback: null,
      dependsOn: ['channel'],
      when: (ctx) => (ctx.results.channel as contents.Channel).liveStreamId !== null,
      fetch: async (ctx) => {
        const id = (ctx.results.channel as contents.Channel).liveStreamId;
        return id === null ? null : ctx.backends.contents.stream({ ...s.opts(ctx), params: { id } });
      },
    },
    archives: {
      backend: 'contents',
      timeoutMs: 300,
      fallback: { items: [], nextCursor: null },
      fetch: (ctx) =>
        ctx.backends.contents.archives({ ...s.opts(ctx), params: { id: s.param(ctx, 'id') }, query: { limit: 20 } }),
    },
    viewerFollows: s.viewerFollows('channel', (r) => (r as contents.Channel | null)?.ownerId),
    // Not live: still asked (with the channel's id), for the edge's base URL of the archives' VODs.
    playback: s.playback(
      'channel',
      (r) => (r as contents.Channel | null)?.liveStreamId ?? (r as contents.Channel | null)?.id,
    ),
  },

  profile: {
    profile: {
      backend: 'user',
      timeoutMs: 250,
      required: true,
      fallback: null,
      fetch: (ctx) => ctx.backends.user.profile({ ...s.opts(ctx), params: { id: s.param(ctx, 'id') } }),
    },
    channel: {
      backend: 'contents',
      timeoutMs: 250,
      fallback: null,
      fetch: (ctx) => ctx.backends.contents.channelOf({ ...s.opts(ctx), params: { userId: s.param(ctx, 'id') } }),
    },
    viewerFollows: s.viewerFollows('profile', (r) => (r as user.Profile | null)?.id),
  },
} satisfies Record<string, Sections>;

export type ViewName = keyof typeof views;
