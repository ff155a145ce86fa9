import { type Static, Type } from 'typebox';
import { Id, IdempotencyHeaders, Text } from './common.ts';
import { route } from './routes.ts';

export const Stamp = Type.Object({
  id: Id,
  name: Type.String(),
  imageUrl: Type.String(),
  category: Type.String(),
  /** Points spent to send it; 0 = free (rate-limited instead). */
  price: Type.Integer({ minimum: 0 }),
  /** null: usable on every stream; otherwise only on this channel's streams. */
  channelId: Type.Union([Id, Type.Null()]),
});
export type Stamp = Static<typeof Stamp>;

/** The whole catalog; `version` changes whenever any stamp does (and is the ETag). */
export const Catalog = Type.Object({ version: Type.String(), items: Type.Array(Stamp) });
export type Catalog = Static<typeof Catalog>;

export const CatalogVersion = Type.Object({ version: Type.String() });
export type CatalogVersion = Static<typeof CatalogVersion>;

export const CreateStampBody = Type.Object(
  {
    name: Text({ minLength: 1, maxLength: 60 }),
    imageUrl: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048 }),
    category: Text({ minLength: 1, maxLength: 40 }),
    price: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
    channelId: Type.Optional(Type.Union([Id, Type.Null()])),
  },
  { additionalProperties: false },
);
export type CreateStampBody = Static<typeof CreateStampBody>;

export const StreamParams = Type.Object({ streamId: Id });

export const SendStampBody = Type.Object({ stampId: Id }, { additionalProperties: false });
export type SendStampBody = Static<typeof SendStampBody>;

/** Required on POST /streams/:streamId/stamps: a retried send with the same key is recorded and charged once. */
export const SentStamp = Type.Object({
  id: Id,
  streamId: Id,
  stampId: Id,
  senderId: Id,
  /** The streamer (channel owner) who received the points. */
  receiverId: Id,
  price: Type.Integer(),
  /** The point transfer of a paid stamp; null for free ones. */
  transferId: Type.Union([Type.String(), Type.Null()]),
  /** The sender's balance right after that transfer; null for free stamps. */
  balance: Type.Union([Type.Integer(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});
export type SentStamp = Static<typeof SentStamp>;

export const SupportersQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })) },
  { additionalProperties: false },
);
export const Supporter = Type.Object({
  userId: Id,
  /** Points given on this stream through paid stamps. */
  points: Type.Integer(),
  stamps: Type.Integer(),
});
export type Supporter = Static<typeof Supporter>;
export const SupporterList = Type.Object({ items: Type.Array(Supporter) });
export type SupporterList = Static<typeof SupporterList>;

/** The internal API other services call (the kit generates `clients.stamp` from it). */
export const routes = {
  catalog: route({ method: 'GET', path: '/catalog', response: Catalog }),
  catalogVersion: route({ method: 'GET', path: '/catalog/version', response: CatalogVersion }),
  create: route({ method: 'POST', path: '/stamps', body: CreateStampBody, response: Stamp }),
  send: route({
    method: 'POST',
    path: '/streams/:streamId/stamps',
    params: StreamParams,
    headers: IdempotencyHeaders,
    body: SendStampBody,
    response: SentStamp,
  }),
  supporters: route({
    method: 'GET',
    path: '/streams/:streamId/supporters',
    params: StreamParams,
    query: SupportersQuery,
    response: SupporterList,
  }),
};
