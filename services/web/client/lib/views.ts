import type { payment, point } from '@livehouse/contracts';

/** The BFF's /web/v1 views as the pages read them (services/bff/src/views/shapes.ts, web). */

export interface WebUser {
  id: string;
  handle: string;
  displayName: string;
  bio: string;
  avatarUrl: string | null;
  followersCount: number;
  followingCount: number;
}

export interface WebStream {
  id: string;
  title: string;
  state: string;
  viewerCount: number;
  peakViewerCount: number;
  startedAt: string | null;
  endedAt: string | null;
  durationSeconds: number | null;
  category: { id: string; slug: string; name: string } | null;
  channel: { id: string; title: string; imageUrl: string | null };
  streamer: WebUser | null;
  thumbnailUrl?: string | null;
  /** On channel archives: the VOD playlist. */
  vodUrl?: string | null;
}

export interface WebChannel {
  id: string;
  title: string;
  description: string;
  imageUrl: string | null;
  category: { id: string; slug: string; name: string } | null;
  featured: boolean;
  liveStreamId: string | null;
}

export interface Meta {
  degraded: string[];
}

export interface TimelineEntry {
  id: string;
  type: string;
  streamId: string;
  channelId: string;
  title: string;
  streamer: WebUser | null;
  live: boolean;
  at: string;
  endedAt: string | null;
}

export interface HomeView {
  liveNow: WebStream[];
  followingLive: WebStream[];
  featured: WebStream[];
  catalogVersion: string | null;
  wallet: { balance: number } | null;
  timeline: TimelineEntry[];
  meta: Meta;
}

export interface StampItem {
  id: string;
  name: string;
  imageUrl: string;
  category: string;
  price: number;
  channelId: string | null;
}

/** The edge's playlists for a stream (null: none, or the video plane is degraded). */
export interface Playback {
  live: string | null;
  vod: string | null;
}

export interface StreamView {
  stream: WebStream;
  playback?: Playback;
  channel: WebChannel | null;
  viewerFollows: boolean;
  /** The stamp catalog's version: the web server holds the catalog itself (src/catalog.ts). */
  catalogVersion: string | null;
  topSupporters: { user: WebUser | null; points: number; stamps: number }[];
  wallet: { balance: number } | null;
  meta: Meta;
}

export interface ChannelView {
  channel: WebChannel;
  streamer: WebUser | null;
  live: WebStream | null;
  /** The 20 newest (no cursor: no route pages further). */
  archives: { items: WebStream[] };
  viewerFollows: boolean;
  meta: Meta;
}

export interface ProfileView {
  profile: WebUser;
  channel: WebChannel | null;
  viewerFollows: boolean;
  meta: Meta;
}

export interface WalletPage {
  balance: number | null;
  history: point.HistoryPage | null;
  /** The point packs on sale (null: payment did not answer). */
  packs: payment.Pack[] | null;
  /** The checkout the buyer came back from (`/wallet?checkout=cs_…`), if any. */
  checkout: payment.Checkout | null;
  /** Sent with the buy form: one checkout however often it is submitted. */
  idempotencyKey: string;
  meta: Meta;
}
