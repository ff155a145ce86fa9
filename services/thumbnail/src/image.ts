import { createHash } from 'node:crypto';
import { AppError } from '@livehouse/kit';
import sharp, { type Metadata } from 'sharp';
import { type CardText, cardSvg } from './card.ts';
import { type Size, sizeName } from './config.ts';

export type Format = 'webp' | 'jpeg';

export const CONTENT_TYPES: Record<Format, string> = { webp: 'image/webp', jpeg: 'image/jpeg' };
const UPLOAD_FORMATS: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };

/** The largest stored source: enough for a 1280×720 thumbnail with room to crop. */
const SOURCE_MAX = { width: 1920, height: 1080 };

export interface UploadLimits {
  maxPixels: number;
  minWidth: number;
  minHeight: number;
}

export interface NormalizedImage {
  data: Buffer;
  width: number;
  height: number;
}

/**
 * Checks an uploaded or fetched image and re-encodes it: only JPEG, PNG or WebP whose header
 * (sharp metadata) shows sane dimensions, then a full decode that fails on truncated or corrupt
 * data. The result is a WebP of at most 1920×1080, EXIF orientation applied and metadata (GPS…) dropped.
 */
export async function normalizeImage(
  body: Buffer,
  declaredType: string | undefined,
  limits: UploadLimits,
): Promise<NormalizedImage> {
  let meta: Metadata;
  try {
    meta = await sharp(body, { limitInputPixels: false }).metadata();
  } catch {
    throw new AppError('bad_request', 'the body is not an image sharp can read (send a JPEG, PNG or WebP file)');
  }
  const actual = meta.format && UPLOAD_FORMATS[meta.format];
  if (!actual) {
    throw new AppError(
      'unsupported_media_type',
      `the image is ${meta.format ?? 'of an unknown format'}: send JPEG, PNG or WebP`,
    );
  }
  if (declaredType && declaredType !== actual) {
    throw new AppError('bad_request', `Content-Type says ${declaredType} but the body is ${actual}`);
  }
  const { width = 0, height = 0 } = meta;
  if (width < limits.minWidth || height < limits.minHeight) {
    throw new AppError(
      'bad_request',
      `the image is ${width}×${height}: it must be at least ${limits.minWidth}×${limits.minHeight}`,
    );
  }
  if (width * height > limits.maxPixels) {
    throw new AppError(
      'bad_request',
      `the image is ${width}×${height}: at most ${limits.maxPixels} pixels are allowed`,
    );
  }
  try {
    const { data, info } = await sharp(body, { failOn: 'error', limitInputPixels: limits.maxPixels, pages: 1 })
      .rotate()
      .resize({ ...SOURCE_MAX, fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 90 })
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height };
  } catch {
    throw new AppError('bad_request', 'the image data is truncated or corrupt');
  }
}

/** The card as a bitmap at the largest size; smaller sizes are scaled from it. */
export async function renderCard(text: CardText, size: Size): Promise<Buffer> {
  return sharp(Buffer.from(cardSvg(text, size.width, size.height)))
    .png()
    .toBuffer();
}

export interface Variant {
  size: string;
  format: Format;
  width: number;
  height: number;
  data: Buffer;
  etag: string;
}

/** Every size in every format, cropped to fill (centre) from one source image. */
export async function renderVariants(
  source: Buffer,
  sizes: readonly Size[],
  formats: readonly Format[],
  quality: Record<Format, number>,
): Promise<Variant[]> {
  const jobs = sizes.flatMap((size) =>
    formats.map(async (format): Promise<Variant> => {
      const resized = sharp(source).resize(size.width, size.height, { fit: 'cover', position: 'centre' });
      const encoded =
        format === 'webp'
          ? resized.webp({ quality: quality.webp })
          : resized.flatten({ background: '#0e0e10' }).jpeg({ quality: quality.jpeg, progressive: true });
      const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
      return { size: sizeName(size), format, width: info.width, height: info.height, data, etag: etagOf(data) };
    }),
  );
  return Promise.all(jobs);
}

/** 128 bits of SHA-256 in hex: the ETag, the `v` of the URL and part of the storage key. */
export const etagOf = (data: Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 32);
