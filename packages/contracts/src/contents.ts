import { type Static, Type } from 'typebox';
import { CursorQuery, Id, Page, Text } from './common.ts';
import { route } from './routes.ts';

const Timestamp = Type.String({ format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
const ImageUrl = Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 });

// ── categories (games) ────────────────────────────────────────────────────────────────

export const Slug = Type.String({
  pattern: '^[a-z0-9]+(-[a-z0-9]+)*$',
  maxLength: 60,
  description: 'lowercase letters and digits, words joined by single hyphens',
});

export const Category = Type.Object({ id: Id, slug: Type.String(), name: Type.String() });
export type Category = Static<typeof Category>;

export const CreateCategoryBody = Type.Object(
  { slug: Slug, name: Text({ minLength: 1, maxLength: 100 }) },
  { additionalProperties: false },
);
export type CreateCategoryBody = Static<typeof CreateCategoryBody>;

export const CategoryList = Type.Object({ items: Type.Array(Category) });
export type CategoryList = Static<typeof CategoryList>;

export const SlugParams = Type.Object({ slug: Slug });

// ── channels ──────────────────────────────────────────────────────────────────────────

export const Channel = Type.Object({
  id: Id,
  ownerId: Id,
  title: Type.String(),
  description: Type.String(),
  category: Type.Union([Category, Type.Null()]),
  imageUrl: Type.Union([Type.String(), Type.Null()]),
  /** Chosen by an admin; the featured listing shows live streams of featured channels. */
  featured: Type.Boolean(),
  /** The stream now live on this channel, if any. */
  liveStreamId: Type.Union([Id, Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Channel = Static<typeof Channel>;

const ChannelTitle = Text({ minLength: 1, maxLength: 100 });
const Description = Text({ maxLength: 2000 });

export const CreateChannelBody = Type.Object(
  {
    title: ChannelTitle,
    description: Type.Optional(Description),
    categoryId: Type.Optional(Type.Union([Id, Type.Null()])),
    imageUrl: Type.Optional(Type.Union([ImageUrl, Type.Null()])),
    /** Admins only: create the channel for this user (default: the caller). */
    ownerId: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type CreateChannelBody = Static<typeof CreateChannelBody>;

export const UpdateChannelBody = Type.Object(
  {
    title: Type.Optional(ChannelTitle),
    description: Type.Optional(Description),
    categoryId: Type.Optional(Type.Union([Id, Type.Null()])),
    imageUrl: Type.Optional(Type.Union([ImageUrl, Type.Null()])),
    /** Admins only. */
    featured: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateChannelBody = Static<typeof UpdateChannelBody>;

/** The stream key in clear text: only in the response that creates or regenerates it, never again. */
export const StreamKey = Type.Object({ channelId: Id, streamKey: Type.String() });
export type StreamKey = Static<typeof StreamKey>;

export const CreatedChannel = Type.Object({ channel: Channel, streamKey: Type.String() });
export type CreatedChannel = Static<typeof CreatedChannel>;

export const VerifyStreamKeyBody = Type.Object(
  { key: Text({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
export const VerifiedStreamKey = Type.Object({ channelId: Id });
export type VerifiedStreamKey = Static<typeof VerifiedStreamKey>;

// ── streams ───────────────────────────────────────────────────────────────────────────

/** scheduled → live → ended; an ended stream is an archive. */
export const StreamState = Type.Union([Type.Literal('scheduled'), Type.Literal('live'), Type.Literal('ended')]);
export type StreamState = Static<typeof StreamState>;

export const Stream = Type.Object({
  id: Id,
  channelId: Id,
  /** The channel owner: the streamer who receives points for stamps. */
  ownerId: Id,
  channel: Type.Object({ title: Type.String(), imageUrl: Type.Union([Type.String(), Type.Null()]) }),
  title: Type.String(),
  category: Type.Union([Category, Type.Null()]),
  state: StreamState,
  scheduledAt: NullableTimestamp,
  startedAt: NullableTimestamp,
  endedAt: NullableTimestamp,
  /** Whole seconds from start to end; set when the stream ends. */
  durationSeconds: Type.Union([Type.Integer(), Type.Null()]),
  viewerCount: Type.Integer(),
  peakViewerCount: Type.Integer(),
  /** The recording, registered by ingest once the ended stream's VOD playlist is final. */
  archive: Type.Union([Type.Object({ durationSeconds: Type.Number(), registeredAt: Timestamp }), Type.Null()]),
  createdAt: Timestamp,
});
export type Stream = Static<typeof Stream>;

export const CreateStreamBody = Type.Object(
  {
    title: Text({ minLength: 1, maxLength: 140 }),
    /** Defaults to the channel's category. */
    categoryId: Type.Optional(Type.Union([Id, Type.Null()])),
    scheduledAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
);
export type CreateStreamBody = Static<typeof CreateStreamBody>;

export const ViewerCountBody = Type.Object(
  { count: Type.Integer({ minimum: 0, maximum: 100_000_000 }) },
  { additionalProperties: false },
);
export const ViewerCount = Type.Object({ id: Id, viewerCount: Type.Integer(), peakViewerCount: Type.Integer() });
export type ViewerCount = Static<typeof ViewerCount>;

// ── lookups and listings ──────────────────────────────────────────────────────────────

export const IdParams = Type.Object({ id: Id });
export const OwnerParams = Type.Object({ userId: Id });

/** `ids` is a comma-separated list of up to 100 ids. */
export const BatchQuery = Type.Object(
  { ids: Type.String({ pattern: '^[0-9a-fA-F-]{36}(,[0-9a-fA-F-]{36}){0,99}$' }) },
  { additionalProperties: false },
);
export const StreamList = Type.Object({ items: Type.Array(Stream) });
export type StreamList = Static<typeof StreamList>;
export const ChannelList = Type.Object({ items: Type.Array(Channel) });
export type ChannelList = Static<typeof ChannelList>;

/** Live streams, most viewers first; filter by category id or slug. */
export const LiveQuery = Type.Object(
  {
    ...CursorQuery.properties,
    categoryId: Type.Optional(Id),
    category: Type.Optional(Slug),
  },
  { additionalProperties: false },
);
export const ListQuery = CursorQuery;

export const StreamPage = Page(Stream);
export type StreamPage = Static<typeof StreamPage>;

// ── ingest (RTMP publishes drive the stream's state) ─────────────────────────────────

/** The VOD of an ended stream, its duration summed from the segments' durations. */
export const RegisterArchiveBody = Type.Object(
  { durationSeconds: Type.Number({ minimum: 0, maximum: 7 * 24 * 3600 }) },
  { additionalProperties: false },
);
export type RegisterArchiveBody = Static<typeof RegisterArchiveBody>;

/** The internal API other services call (the kit generates `clients.contents` from it). */
export const routes = {
  categories: route({ method: 'GET', path: '/categories', response: CategoryList }),
  category: route({ method: 'GET', path: '/categories/:slug', params: SlugParams, response: Category }),
  createCategory: route({ method: 'POST', path: '/categories', body: CreateCategoryBody, response: Category }),
  createChannel: route({ method: 'POST', path: '/channels', body: CreateChannelBody, response: CreatedChannel }),
  channels: route({ method: 'GET', path: '/channels', query: BatchQuery, response: ChannelList }),
  channel: route({ method: 'GET', path: '/channels/:id', params: IdParams, response: Channel }),
  channelOf: route({ method: 'GET', path: '/channels/by-owner/:userId', params: OwnerParams, response: Channel }),
  updateChannel: route({
    method: 'PATCH',
    path: '/channels/:id',
    params: IdParams,
    body: UpdateChannelBody,
    response: Channel,
  }),
  newStreamKey: route({ method: 'POST', path: '/channels/:id/stream-key', params: IdParams, response: StreamKey }),
  verifyStreamKey: route({
    method: 'POST',
    path: '/stream-keys/verify',
    body: VerifyStreamKeyBody,
    response: VerifiedStreamKey,
  }),
  archives: route({
    method: 'GET',
    path: '/channels/:id/archives',
    params: IdParams,
    query: ListQuery,
    response: StreamPage,
  }),
  createStream: route({
    method: 'POST',
    path: '/channels/:id/streams',
    params: IdParams,
    body: CreateStreamBody,
    response: Stream,
  }),
  streams: route({ method: 'GET', path: '/streams', query: BatchQuery, response: StreamList }),
  live: route({ method: 'GET', path: '/streams/live', query: LiveQuery, response: StreamPage }),
  featured: route({ method: 'GET', path: '/streams/featured', query: ListQuery, response: StreamPage }),
  stream: route({ method: 'GET', path: '/streams/:id', params: IdParams, response: Stream }),
  startStream: route({ method: 'POST', path: '/streams/:id/start', params: IdParams, response: Stream }),
  endStream: route({ method: 'POST', path: '/streams/:id/end', params: IdParams, response: Stream }),
  setViewers: route({
    method: 'PUT',
    path: '/streams/:id/viewers',
    params: IdParams,
    body: ViewerCountBody,
    response: ViewerCount,
  }),
  /** Ingest's: the RTMP publish of a verified key makes the channel live, its end ends the stream. */
  goLive: route({ method: 'POST', path: '/ingest/channels/:id/live', params: IdParams, response: Stream }),
  ingestEnded: route({ method: 'POST', path: '/ingest/streams/:id/end', params: IdParams, response: Stream }),
  registerArchive: route({
    method: 'PUT',
    path: '/ingest/streams/:id/archive',
    params: IdParams,
    body: RegisterArchiveBody,
    response: Stream,
  }),
};
