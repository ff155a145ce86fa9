import { contents, type media, type point, type stamp, type timeline as tl, type user } from '@livehouse/contracts';
import { type TSchema, Type } from 'typebox';
import type { ViewName } from './views.ts';

/**
 * The two clients' answers from the same sections. The native app gets compact cards (it renders
 * small lists) and the PC web rich objects; both get the stamp catalog's version and fetch the catalog once by ETag.
 */
type Results = Record<string, unknown>;
type Page<T> = { items: T[]; nextCursor: string | null };
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Id = Type.String({ format: 'uuid' });
const Time = Type.String({ format: 'date-time' });

export const Meta = Type.Object({
  degraded: Type.Array(Type.String(), { description: 'sections answered from a last known value or a default' }),
});

/**
 * What a player opens: the live master playlist, and the archive (an EVENT playlist while live, the
 * finished VOD once ended). Both null when the media plane (edge, ingest) did not answer: see meta.degraded.
 */
const Playback = Type.Object({ live: Nullable(Type.String()), vod: Nullable(Type.String()) });
const playbackOf = (r: Results) => {
  const p = r.playback as media.PlaybackStatus | null;
  return { live: p?.liveUrl ?? null, vod: p?.vodUrl ?? null };
};
/** An archive's VOD on the edge: its URL is known once the edge has told its public base. */
const vodUrl = (r: Results, a: contents.Stream) => {
  const base = (r.playback as media.PlaybackStatus | null)?.baseUrl;
  return base !== undefined && a.archive ? `${base}/streams/${a.id}/archive.m3u8` : null;
};

// ── app: compact ─────────────────────────────────────────────────────────────────────

const AppStreamCard = Type.Object({
  id: Id,
  title: Type.String(),
  viewerCount: Type.Integer(),
  thumbnailUrl: Nullable(Type.String()),
  category: Nullable(Type.String({ description: 'category slug' })),
  streamer: Nullable(Type.String({ description: 'handle' })),
});
const AppUser = Type.Object({ id: Id, handle: Type.String(), avatarUrl: Nullable(Type.String()) });

const appCard = (s: contents.Stream, profiles: Record<string, user.Profile>) => ({
  id: s.id,
  title: s.title,
  viewerCount: s.viewerCount,
  thumbnailUrl: s.channel.imageUrl,
  category: s.category?.slug ?? null,
  streamer: profiles[s.ownerId]?.handle ?? null,
});
const appUser = (p: user.Profile | null) => p && { id: p.id, handle: p.handle, avatarUrl: p.avatarUrl };

// ── web: rich ────────────────────────────────────────────────────────────────────────

const WebUser = Type.Object({
  id: Id,
  handle: Type.String(),
  displayName: Type.String(),
  bio: Type.String(),
  avatarUrl: Nullable(Type.String()),
  followersCount: Type.Integer(),
  followingCount: Type.Integer(),
});
const Category = Nullable(Type.Object({ id: Id, slug: Type.String(), name: Type.String() }));
const WebStream = Type.Object({
  id: Id,
  title: Type.String(),
  state: contents.StreamState,
  viewerCount: Type.Integer(),
  peakViewerCount: Type.Integer(),
  startedAt: Nullable(Time),
  endedAt: Nullable(Time),
  durationSeconds: Nullable(Type.Integer()),
  category: Category,
  channel: Type.Object({ id: Id, title: Type.String(), imageUrl: Nullable(Type.String()) }),
  streamer: Nullable(WebUser),
});
const WebChannel = Type.Object({
  id: Id,
  title: Type.String(),
  description: Type.String(),
  imageUrl: Nullable(Type.String()),
  category: Category,
  featured: Type.Boolean(),
  liveStreamId: Nullable(Id),
});

const webUser = (p: user.Profile | null | undefined) =>
  p
    ? {
        id: p.id,
        handle: p.handle,
        displayName: p.displayName,
        bio: p.bio,
        avatarUrl: p.avatarUrl,
        followersCount: p.followersCount,
        followingCount: p.followingCount,
      }
    : null;
const webStream = (s: contents.Stream, profiles: Record<string, user.Profile>) => ({
  id: s.id,
  title: s.title,
  state: s.state,
  viewerCount: s.viewerCount,
  peakViewerCount: s.peakViewerCount,
  startedAt: s.startedAt,
  endedAt: s.endedAt,
  durationSeconds: s.durationSeconds,
  category: s.category,
  channel: { id: s.channelId, title: s.channel.title, imageUrl: s.channel.imageUrl },
  streamer: webUser(profiles[s.ownerId]),
});
const webChannel = (c: contents.Channel) => ({
  id: c.id,
  title: c.title,
  description: c.description,
  imageUrl: c.imageUrl,
  category: c.category,
  featured: c.featured,
  liveStreamId: c.liveStreamId,
});

const AppTimelineEntry = Type.Object({
  streamId: Id,
  title: Type.String(),
  streamer: Nullable(Type.String({ description: 'handle' })),
  live: Type.Boolean(),
  at: Time,
});
const WebTimelineEntry = Type.Object({
  id: Id,
  type: Type.String(),
  streamId: Id,
  channelId: Id,
  title: Type.String(),
  streamer: Nullable(WebUser),
  live: Type.Boolean(),
  at: Time,
  endedAt: Nullable(Time),
});
const timelineItems = (r: Results) => (r.timeline as tl.TimelinePage).items;

// ── views ────────────────────────────────────────────────────────────────────────────

/** Live streams of channels the viewer follows, from the live listing. */
function followingLive(r: Results) {
  const followed = new Set((r.following as user.FollowPage).items.map((f) => f.user.id));
  return (r.liveNow as Page<contents.Stream>).items.filter((s) => followed.has(s.ownerId));
}
const balance = (r: Results) => (r.wallet as point.Wallet | null)?.balance ?? null;
const profiles = (r: Results, key: string) => r[key] as Record<string, user.Profile>;

interface Shape {
  schema: TSchema;
  shape: (r: Results) => Record<string, unknown>;
}

export const shapes: Record<'app' | 'web', Record<ViewName, Shape>> = {
  app: {
    home: {
      schema: Type.Object({
        liveNow: Type.Array(AppStreamCard),
        followingLive: Type.Array(AppStreamCard),
        featured: Type.Array(AppStreamCard),
        catalogVersion: Nullable(Type.String()),
        balance: Nullable(Type.Integer()),
        timeline: Type.Array(AppTimelineEntry),
        meta: Meta,
      }),
      shape: (r) => ({
        timeline: timelineItems(r).map((t) => ({
          streamId: t.streamId,
          title: t.title,
          streamer: profiles(r, 'streamers')[t.ownerId]?.handle ?? null,
          live: t.live,
          at: t.at,
        })),
        liveNow: (r.liveNow as Page<contents.Stream>).items
          .slice(0, 20)
          .map((s) => appCard(s, profiles(r, 'streamers'))),
        followingLive: followingLive(r).map((s) => appCard(s, profiles(r, 'streamers'))),
        featured: (r.featured as Page<contents.Stream>).items.map((s) => appCard(s, profiles(r, 'streamers'))),
        catalogVersion: (r.catalogVersion as { version: string } | null)?.version ?? null,
        balance: balance(r),
      }),
    },
    stream: {
      schema: Type.Object({
        stream: Type.Object({
          id: Id,
          title: Type.String(),
          state: contents.StreamState,
          viewerCount: Type.Integer(),
          startedAt: Nullable(Time),
        }),
        streamer: Nullable(AppUser),
        viewerFollows: Type.Boolean(),
        catalogVersion: Nullable(Type.String()),
        topSupporters: Type.Array(Type.Object({ handle: Nullable(Type.String()), points: Type.Integer() })),
        balance: Nullable(Type.Integer()),
        playback: Playback,
        meta: Meta,
      }),
      shape: (r) => {
        const s = r.stream as contents.Stream;
        return {
          stream: { id: s.id, title: s.title, state: s.state, viewerCount: s.viewerCount, startedAt: s.startedAt },
          streamer: appUser(r.streamer as user.Profile | null),
          viewerFollows: r.viewerFollows,
          catalogVersion: (r.catalog as { version: string } | null)?.version ?? null,
          topSupporters: (r.supporters as stamp.SupporterList).items.map((x) => ({
            handle: profiles(r, 'supporterProfiles')[x.userId]?.handle ?? null,
            points: x.points,
          })),
          balance: balance(r),
          playback: playbackOf(r),
        };
      },
    },
    channel: {
      schema: Type.Object({
        channel: Type.Object({ id: Id, title: Type.String(), imageUrl: Nullable(Type.String()) }),
        streamer: Nullable(AppUser),
        live: Nullable(AppStreamCard),
        archives: Type.Array(
          Type.Object({
            id: Id,
            title: Type.String(),
            durationSeconds: Nullable(Type.Integer()),
            vodUrl: Nullable(Type.String()),
          }),
        ),
        viewerFollows: Type.Boolean(),
        playback: Playback,
        meta: Meta,
      }),
      shape: (r) => {
        const c = r.channel as contents.Channel;
        const streamer = r.streamer as user.Profile | null;
        const live = r.liveStream as contents.Stream | null;
        return {
          channel: { id: c.id, title: c.title, imageUrl: c.imageUrl },
          streamer: appUser(streamer),
          live: live && appCard(live, streamer ? { [streamer.id]: streamer } : {}),
          archives: (r.archives as Page<contents.Stream>).items.map((a) => ({
            id: a.id,
            title: a.title,
            durationSeconds: a.durationSeconds,
            vodUrl: vodUrl(r, a),
          })),
          viewerFollows: r.viewerFollows,
          playback: playbackOf(r),
        };
      },
    },
    profile: {
      schema: Type.Object({
        profile: Type.Object({
          id: Id,
          handle: Type.String(),
          displayName: Type.String(),
          avatarUrl: Nullable(Type.String()),
          followersCount: Type.Integer(),
        }),
        channelId: Nullable(Type.String()),
        viewerFollows: Type.Boolean(),
        meta: Meta,
      }),
      shape: (r) => {
        const p = r.profile as user.Profile;
        return {
          profile: {
            id: p.id,
            handle: p.handle,
            displayName: p.displayName,
            avatarUrl: p.avatarUrl,
            followersCount: p.followersCount,
          },
          channelId: (r.channel as contents.Channel | null)?.id ?? null,
          viewerFollows: r.viewerFollows,
        };
      },
    },
  },
  web: {
    home: {
      schema: Type.Object({
        liveNow: Type.Array(WebStream),
        followingLive: Type.Array(WebStream),
        featured: Type.Array(WebStream),
        catalogVersion: Nullable(Type.String()),
        wallet: Nullable(Type.Object({ balance: Type.Integer() })),
        timeline: Type.Array(WebTimelineEntry),
        meta: Meta,
      }),
      shape: (r) => ({
        timeline: timelineItems(r).map((t) => ({
          id: t.id,
          type: t.type,
          streamId: t.streamId,
          channelId: t.channelId,
          title: t.title,
          streamer: webUser(profiles(r, 'streamers')[t.ownerId]),
          live: t.live,
          at: t.at,
          endedAt: t.endedAt,
        })),
        liveNow: (r.liveNow as Page<contents.Stream>).items.map((s) => webStream(s, profiles(r, 'streamers'))),
        followingLive: followingLive(r).map((s) => webStream(s, profiles(r, 'streamers'))),
        featured: (r.featured as Page<contents.Stream>).items.map((s) => webStream(s, profiles(r, 'streamers'))),
        catalogVersion: (r.catalogVersion as { version: string } | null)?.version ?? null,
        wallet: r.wallet ? { balance: balance(r) } : null,
      }),
    },
    stream: {
      schema: Type.Object({
        stream: WebStream,
        channel: Nullable(WebChannel),
        viewerFollows: Type.Boolean(),
        catalogVersion: Nullable(Type.String()),
        topSupporters: Type.Array(
          Type.Object({ user: Nullable(WebUser), points: Type.Integer(), stamps: Type.Integer() }),
        ),
        wallet: Nullable(Type.Object({ balance: Type.Integer() })),
        playback: Playback,
        meta: Meta,
      }),
      shape: (r) => {
        const s = r.stream as contents.Stream;
        const streamer = r.streamer as user.Profile | null;
        const channel = r.channel as contents.Channel | null;
        return {
          stream: webStream(s, streamer ? { [streamer.id]: streamer } : {}),
          channel: channel && webChannel(channel),
          viewerFollows: r.viewerFollows,
          catalogVersion: (r.catalog as { version: string } | null)?.version ?? null,
          topSupporters: (r.supporters as stamp.SupporterList).items.map((x) => ({
            user: webUser(profiles(r, 'supporterProfiles')[x.userId]),
            points: x.points,
            stamps: x.stamps,
          })),
          wallet: r.wallet ? { balance: balance(r) } : null,
          playback: playbackOf(r),
        };
      },
    },
    channel: {
      schema: Type.Object({
        channel: WebChannel,
        streamer: Nullable(WebUser),
        live: Nullable(WebStream),
        archives: Type.Object({
          items: Type.Array(Type.Object({ ...WebStream.properties, vodUrl: Nullable(Type.String()) })),
        }),
        viewerFollows: Type.Boolean(),
        playback: Playback,
        meta: Meta,
      }),
      shape: (r) => {
        const streamer = r.streamer as user.Profile | null;
        const byId = streamer ? { [streamer.id]: streamer } : {};
        const live = r.liveStream as contents.Stream | null;
        const archives = r.archives as Page<contents.Stream>;
        return {
          channel: webChannel(r.channel as contents.Channel),
          streamer: webUser(streamer),
          live: live && webStream(live, byId),
          archives: {
            items: archives.items.map((a) => ({ ...webStream(a, byId), vodUrl: vodUrl(r, a) })),
          },
          viewerFollows: r.viewerFollows,
          playback: playbackOf(r),
        };
      },
    },
    profile: {
      schema: Type.Object({
        profile: WebUser,
        channel: Nullable(WebChannel),
        viewerFollows: Type.Boolean(),
        meta: Meta,
      }),
      shape: (r) => {
        const channel = r.channel as contents.Channel | null;
        return {
          profile: webUser(r.profile as user.Profile),
          channel: channel && webChannel(channel),
          viewerFollows: r.viewerFollows,
        };
      },
    },
  },
};
