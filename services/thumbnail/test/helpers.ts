import { randomUUID } from 'node:crypto';
import type { TestPlatform } from '@livehouse/kit/testing';
import sharp from 'sharp';
import { expect } from 'vitest';

export type Role = 'viewer' | 'streamer' | 'admin';
export type User = { id: string; roles: Role[] };
export const admin: User = { id: randomUUID(), roles: ['admin'] };
export const newStreamer = (): User => ({ id: randomUUID(), roles: ['streamer'] });

/** A solid-colour image of the given size and format, made with sharp. */
export async function solidImage(
  width: number,
  height: number,
  format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff',
  color = { r: 220, g: 30, b: 30 },
) {
  return sharp({ create: { width, height, channels: 3, background: color } })
    .toFormat(format)
    .toBuffer();
}

/**
 * A channel owned by a new streamer with a stream on it (contents API), started unless `start` is
 * false. Starting writes `stream.started`, which the relay delivers to thumbnail: tests of the
 * on-demand path use streams that are not started, so that no event races with them.
 */
export async function liveStream(
  p: TestPlatform,
  options: { title?: string; categoryId?: string | null; imageUrl?: string; start?: boolean } = {},
) {
  const owner = newStreamer();
  const channel = await p.call('contents', 'POST', '/channels', {
    user: owner,
    body: {
      title: 'Channel',
      ...(options.categoryId && { categoryId: options.categoryId }),
      ...(options.imageUrl && { imageUrl: options.imageUrl }),
    },
  });
  expect(channel.status).toBe(201);
  const channelId: string = channel.body.channel.id;
  const stream = await p.call('contents', 'POST', `/channels/${channelId}/streams`, {
    user: owner,
    body: { title: options.title ?? 'Speedrun night' },
  });
  expect(stream.status).toBe(201);
  const streamId: string = stream.body.id;
  if (options.start !== false) {
    const started = await p.call('contents', 'POST', `/streams/${streamId}/start`, { user: owner });
    expect(started.status).toBe(200);
  }
  return { owner, channelId, streamId };
}

/** GET of a file on the thumbnail service, as the BFF would proxy it. */
export async function fetchFile(p: TestPlatform, url: string, headers: Record<string, string> = {}) {
  const res = await fetch(p.url('thumbnail') + url, {
    headers: { authorization: `Bearer ${await p.token('bff')}`, ...headers },
  });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** PUT of raw bytes (the image upload). */
export async function putImage(
  p: TestPlatform,
  channelId: string,
  user: User,
  body: Buffer | string,
  contentType: string | undefined,
) {
  const headers: Record<string, string> = { authorization: `Bearer ${await p.token('bff', user)}` };
  if (contentType) headers['content-type'] = contentType;
  const res = await fetch(`${p.url('thumbnail')}/channels/${channelId}/image`, {
    method: 'PUT',
    headers,
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
