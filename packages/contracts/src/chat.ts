import { type Static, Type } from 'typebox';
import { Id, Text } from './common.ts';

/**
 * Live chat: one room per stream, over a WebSocket at `GET /rooms/:streamId/ws`.
 * The full protocol (frames, error codes, close codes) is described in services/chat/PROTOCOL.md.
 */

/** WebSocket close codes chat uses besides the standard ones (1000, 1001, 1006, 1009, 1011). */
export const CloseCode = {
  /** Too many frames, or too many invalid frames, in a short time. */
  policyViolation: 1008,
  /** A frame larger than `chat.maxFrameBytes`. */
  messageTooBig: 1009,
  /** The instance is shutting down: reconnect (to any instance) with `?since=<last id>`. */
  serviceRestart: 1012,
  /** The channel owner banned this user from the room. */
  banned: 4003,
  /** The client read too slowly: its send buffer reached `chat.sendBufferBytes`. Reconnect with `?since=`. */
  tooSlow: 4008,
} as const;

// ── items: what a room is made of, totally ordered by `id` ─────────────────────────────

/** Common to every item: `id` increases by exactly 1 per item in a room; `at` is epoch milliseconds. */
const ItemBase = { id: Type.Integer({ minimum: 1 }), at: Type.Integer() };

export const MessageItem = Type.Object({
  ...ItemBase,
  type: Type.Literal('message'),
  userId: Id,
  text: Type.String(),
});
export const StampItem = Type.Object({
  ...ItemBase,
  type: Type.Literal('stamp'),
  /** The ledger transaction (or, for a free stamp, the sent stamp's id): drop an item whose txId you already showed. */
  txId: Type.String(),
  sentStampId: Type.String(),
  stampId: Type.String(),
  senderId: Type.String(),
  price: Type.Integer(),
});
export const DeleteItem = Type.Object({
  ...ItemBase,
  type: Type.Literal('delete'),
  messageId: Type.Integer(),
  by: Id,
});
export const BanItem = Type.Object({ ...ItemBase, type: Type.Literal('ban'), userId: Id, by: Id });
export const UnbanItem = Type.Object({ ...ItemBase, type: Type.Literal('unban'), userId: Id, by: Id });
export const SettingsItem = Type.Object({ ...ItemBase, type: Type.Literal('settings'), settings: Type.Unknown() });

export const Item = Type.Union([MessageItem, StampItem, DeleteItem, BanItem, UnbanItem, SettingsItem]);
export type Item = Static<typeof Item>;
export type MessageItem = Static<typeof MessageItem>;
export type StampItem = Static<typeof StampItem>;

// ── per-channel settings ───────────────────────────────────────────────────────────────

export const RoomSettings = Type.Object({
  /** Messages a user may post per window before a mute (moderators are exempt). */
  rateLimitMax: Type.Integer({ minimum: 1, maximum: 1000 }),
  rateLimitWindowMs: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
  /** How long a user who exceeded the rate limit cannot post. */
  muteMs: Type.Integer({ minimum: 0, maximum: 86_400_000 }),
  /** Slow mode: at most one message per this many seconds per user; 0 = off. */
  slowModeSeconds: Type.Integer({ minimum: 0, maximum: 3600 }),
});
export type RoomSettings = Static<typeof RoomSettings>;

export const UpdateRoomSettingsBody = Type.Partial(RoomSettings, { additionalProperties: false, minProperties: 1 });
export type UpdateRoomSettingsBody = Static<typeof UpdateRoomSettingsBody>;

// ── client → server frames (JSON text) ─────────────────────────────────────────────────

/** `ref` is echoed in the matching `ack` or `error` frame. */
const Ref = Type.Optional(Text({ maxLength: 64 }));

export const SendFrame = Type.Object(
  { type: Type.Literal('send'), text: Text(), ref: Ref },
  { additionalProperties: false },
);
export const DeleteFrame = Type.Object(
  { type: Type.Literal('delete'), messageId: Type.Integer({ minimum: 1 }), ref: Ref },
  { additionalProperties: false },
);
export const BanFrame = Type.Object(
  { type: Type.Union([Type.Literal('ban'), Type.Literal('unban')]), userId: Id, ref: Ref },
  { additionalProperties: false },
);
export const PingFrame = Type.Object({ type: Type.Literal('ping'), ref: Ref }, { additionalProperties: false });
export const ClientFrame = Type.Union([SendFrame, DeleteFrame, BanFrame, PingFrame]);
export type ClientFrame = Static<typeof ClientFrame>;

// ── server → client frames (JSON text) ─────────────────────────────────────────────────

export interface WelcomeFrame {
  type: 'welcome';
  streamId: string;
  /** null for an anonymous reader (who may read but not post). */
  user: { id: string; moderator: boolean } | null;
  settings: RoomSettings;
}
/** Sent once after `welcome`: the recent history, or everything after `since` when resuming. */
export interface HistoryFrame {
  type: 'history';
  items: Item[];
  /** True when `since` was given and every item after it is included. */
  resumed: boolean;
}
export interface ItemsFrame {
  type: 'items';
  items: Item[];
}
export interface AckFrame {
  type: 'ack';
  ref?: string;
  id: number;
  at: number;
}
export interface ErrorFrame {
  type: 'error';
  ref?: string;
  code: string;
  message: string;
  retryAfterMs?: number;
}
export interface PongFrame {
  type: 'pong';
  ref?: string;
}
export type ServerFrame = WelcomeFrame | HistoryFrame | ItemsFrame | AckFrame | ErrorFrame | PongFrame;

// ── HTTP ──────────────────────────────────────────────────────────────────────────────

export const RoomParams = Type.Object({ streamId: Id });
export const RoomMessageParams = Type.Object({ streamId: Id, messageId: Type.Integer({ minimum: 1 }) });
export const RoomUserParams = Type.Object({ streamId: Id, userId: Id });
export const ChannelParams = Type.Object({ channelId: Id });

export const WsQuery = Type.Object(
  {
    /** Resume: the id of the last item the client has; the room sends every item after it. */
    since: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const RecentQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })) },
  { additionalProperties: false },
);
export const ItemList = Type.Object({ items: Type.Array(Item) });
export type ItemList = Static<typeof ItemList>;

export const RoomState = Type.Object({
  streamId: Id,
  /** Connections to the room across every chat instance (as last reported). */
  viewers: Type.Integer(),
  lastId: Type.Integer(),
  settings: RoomSettings,
});
export type RoomState = Static<typeof RoomState>;

export const Appended = Type.Object({ id: Type.Integer(), at: Type.Integer() });
