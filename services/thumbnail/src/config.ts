import { objectStorageConfig } from '@livehouse/kit/storage';
import { type Static, Type } from 'typebox';

const Quality = (value: number) => Type.Integer({ minimum: 1, maximum: 100, default: value });
const MiB = 1024 * 1024;

const Size = Type.Object(
  { width: Type.Integer({ minimum: 16, maximum: 3840 }), height: Type.Integer({ minimum: 16, maximum: 2160 }) },
  { additionalProperties: false },
);

/** The `thumbnail:` section of the service's config. */
export const thumbnailConfig = {
  thumbnail: Type.Object(
    {
      /** A folder (embedded) or an S3 bucket (production); see @livehouse/kit/storage for the credentials. */
      storage: objectStorageConfig('.livehouse/thumbnails'),
      sizes: Type.Array(Size, {
        minItems: 1,
        maxItems: 8,
        default: [
          { width: 1280, height: 720 },
          { width: 640, height: 360 },
          { width: 320, height: 180 },
        ],
      }),
      formats: Type.Array(Type.Union([Type.Literal('webp'), Type.Literal('jpeg')]), {
        minItems: 1,
        maxItems: 2,
        uniqueItems: true,
        default: ['webp', 'jpeg'],
      }),
      quality: Type.Object({ webp: Quality(80), jpeg: Quality(82) }, { default: {}, additionalProperties: false }),
      upload: Type.Object(
        {
          maxBytes: Type.Integer({ minimum: 1024, maximum: 50 * MiB, default: 5 * MiB }),
          /** Decompression bombs: a tiny file that claims a huge canvas is refused before decoding. */
          maxPixels: Type.Integer({ minimum: 1, default: 40_000_000 }),
          minWidth: Type.Integer({ minimum: 1, default: 160 }),
          minHeight: Type.Integer({ minimum: 1, default: 90 }),
        },
        { default: {}, additionalProperties: false },
      ),
      /** A channel's `imageUrl` (from contents) is fetched when the channel uploaded no image. */
      remoteImages: Type.Object(
        {
          enabled: Type.Boolean({ default: true }),
          /** Off in production: refuses loopback, private and link-local addresses (SSRF). */
          allowPrivateNetworks: Type.Boolean({ default: false }),
          timeoutMs: Type.Integer({ minimum: 100, default: 5000 }),
          maxBytes: Type.Integer({ minimum: 1024, maximum: 50 * MiB, default: 5 * MiB }),
        },
        { default: {}, additionalProperties: false },
      ),
      /** Prefix of the URLs in answers (e.g. the BFF's public image path); empty: paths on this service. */
      publicBaseUrl: Type.String({ pattern: '^(https?://[^\\s]*[^/\\s]|/[^\\s]*[^/\\s])?$', default: '' }),
      /** The queue of `stream.started` work. */
      jobs: Type.Object(
        {
          /** How often an idle worker looks for due jobs (a new event also wakes it). */
          pollMs: Type.Integer({ minimum: 10, default: 1000 }),
          /** A job held longer than this (a crashed worker) is taken by another. */
          leaseMs: Type.Integer({ minimum: 1000, default: 60000 }),
          maxAttempts: Type.Integer({ minimum: 1, maximum: 20, default: 5 }),
          /** First retry delay; it doubles with each attempt. */
          retryBaseMs: Type.Integer({ minimum: 1, default: 2000 }),
        },
        { default: {}, additionalProperties: false },
      ),
      /** Thumbnail sets rendered at once; each holds a decoded source in memory. */
      maxConcurrent: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
    },
    { default: {}, additionalProperties: false },
  ),
};

export type ThumbnailConfig = Static<(typeof thumbnailConfig)['thumbnail']>;
export type StorageConfig = ThumbnailConfig['storage'];
export type Size = Static<typeof Size>;

export const sizeName = (s: Size) => `${s.width}x${s.height}`;
