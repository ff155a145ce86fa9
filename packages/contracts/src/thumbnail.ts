import { type Static, Type } from 'typebox';
import { Id, Text } from './common.ts';

/** `<width>x<height>`, one of the sizes the service is configured with (default 1280x720, 640x360, 320x180). */
export const SizeName = Type.String({ pattern: '^[1-9][0-9]{0,3}x[1-9][0-9]{0,3}$', maxLength: 9 });

export const ImageFormat = Type.Union([Type.Literal('webp'), Type.Literal('jpeg')]);
export type ImageFormat = Static<typeof ImageFormat>;

/** Where a set of thumbnails came from. */
export const ThumbnailSource = Type.Union([
  Type.Literal('upload'),
  Type.Literal('channel_image_url'),
  Type.Literal('card'),
  /** A frame of the live video, sent by ingest every few seconds. */
  Type.Literal('live_frame'),
]);
export type ThumbnailSource = Static<typeof ThumbnailSource>;

export const Thumbnail = Type.Object({
  size: Type.String(),
  format: ImageFormat,
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
  /**
   * Versioned URL (`…?v=<etag>`): what it names never changes, so it is cached for a year as
   * `immutable`. Relative to the thumbnail service (or `thumbnail.publicBaseUrl` when set).
   */
  url: Type.String(),
});
export type Thumbnail = Static<typeof Thumbnail>;

export const StreamThumbnails = Type.Object({
  streamId: Id,
  source: ThumbnailSource,
  generatedAt: Type.String({ format: 'date-time' }),
  items: Type.Array(Thumbnail),
});
export type StreamThumbnails = Static<typeof StreamThumbnails>;

/** On-demand generation; anything omitted comes from the stream as `contents` knows it. */
export const GenerateBody = Type.Object(
  {
    title: Type.Optional(Text({ minLength: 1, maxLength: 140 })),
    category: Type.Optional(Type.Union([Text({ maxLength: 100 }), Type.Null()])),
    /** Must be the stream's channel when given. */
    channelId: Type.Optional(Id),
  },
  { additionalProperties: false },
);
export type GenerateBody = Static<typeof GenerateBody>;

export const StreamParams = Type.Object({ streamId: Id });
export const ChannelParams = Type.Object({ channelId: Id });
export const FileParams = Type.Object({ streamId: Id, size: SizeName, format: ImageFormat });
export const FileQuery = Type.Object({ v: Type.Optional(Text({ maxLength: 64 })) });

/** `streamIds` is a comma-separated list of up to 100 ids; streams without thumbnails are absent. */
export const BatchQuery = Type.Object(
  { streamIds: Type.String({ pattern: '^[0-9a-fA-F-]{36}(,[0-9a-fA-F-]{36}){0,99}$' }) },
  { additionalProperties: false },
);
export const StreamThumbnailsList = Type.Object({ items: Type.Array(StreamThumbnails) });
export type StreamThumbnailsList = Static<typeof StreamThumbnailsList>;

/** The channel's uploaded image after validation: re-encoded, EXIF stripped, at most 1920×1080. */
export const ChannelImage = Type.Object({
  channelId: Id,
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type ChannelImage = Static<typeof ChannelImage>;

export const UPLOAD_CONTENT_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
