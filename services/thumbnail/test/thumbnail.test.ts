import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { contentsService } from '@livehouse/contents';
import type { EventData, EventEnvelope } from '@livehouse/contracts';
import { InProcessEventBus, type OutboxDatabase, parseConfig } from '@livehouse/kit';
import { FilesystemStorage, type ObjectStorage } from '@livehouse/kit/storage';
import { dbKinds, startTestPlatform, type TestBody, type TestPlatform } from '@livehouse/kit/testing';
import type { Kysely } from 'kysely';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbnailConfig } from '../src/config.ts';
import type { ThumbnailDatabase } from '../src/db.ts';
import { thumbnailService } from '../src/index.ts';
import { PendingWork, Semaphore } from '../src/limit.ts';
import { generate as generateSet, type ThumbnailDeps } from '../src/thumbnail.service.ts';
import { admin, fetchFile, liveStream, newStreamer, putImage, solidImage } from './helpers.ts';

const SIZES = [
  [1280, 720],
  [640, 360],
  [320, 180],
] as const;

/** Lists every file under a folder, relative to it. */
async function filesUnder(dir: string) {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  } catch {
    return [];
  }
}

describe.each(dbKinds)('thumbnail on %s', (kind) => {
  let p: TestPlatform;
  let db: Kysely<ThumbnailDatabase>;
  let dir: string;
  let categoryId: string;
  let imageServer: Server;
  let imageServerUrl: string;
  let bus: InProcessEventBus;

  beforeAll(async () => {
    bus = new InProcessEventBus();
    dir = join(tmpdir(), `livehouse-thumbs-${randomUUID()}`);
    p = await startTestPlatform([contentsService, thumbnailService], kind, {
      bus,
      config: (name) =>
        name === 'thumbnail'
          ? {
              thumbnail: {
                storage: { kind: 'filesystem', dir },
                remoteImages: { allowPrivateNetworks: true },
                jobs: { pollMs: 50, retryBaseMs: 20 },
              },
            }
          : {},
    });
    db = p.services.get('thumbnail')!.built.database!.db as Kysely<ThumbnailDatabase>;
    const category = await p.call('contents', 'POST', '/categories', {
      user: admin,
      body: { slug: `game-${kind}`, name: 'Tetris & <Friends>' },
    });
    expect(category.status).toBe(201);
    categoryId = category.body.id;
    // The outside world: a web server holding a channel's image.
    const blue = await solidImage(1000, 600, 'jpeg', { r: 20, g: 40, b: 230 });
    imageServer = createServer((req, res) => {
      if (req.url === '/blue.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(blue);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => imageServer.listen(0, '127.0.0.1', resolve));
    imageServerUrl = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await p?.close();
    await bus?.close();
    imageServer?.close();
  });

  /** The `stream.started` contents wrote to its outbox, as the relay puts it on the bus. */
  async function startedEvent(streamId: string): Promise<EventEnvelope<'stream.started'>> {
    const contentsDb = p.services.get('contents')!.built.database!.db as Kysely<OutboxDatabase>;
    const row = await contentsDb
      .selectFrom('outbox')
      .selectAll()
      .where('type', '=', 'stream.started')
      .where('key', '=', streamId)
      .executeTakeFirstOrThrow();
    return {
      id: row.event_id,
      type: 'stream.started',
      source: 'contents',
      key: row.key,
      occurredAt: row.occurred_at.toISOString(),
      data: row.data as EventData<'stream.started'>,
    };
  }

  /** Waits until the stream's `stream.started` from contents was consumed and its job is done. */
  async function settled(streamId: string) {
    const { id } = await startedEvent(streamId);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const processed = await db.selectFrom('processed_events').select('event_id').where('event_id', '=', id).execute();
      const waiting = await db.selectFrom('jobs').select('stream_id').where('stream_id', '=', streamId).execute();
      if (processed.length === 1 && waiting.length === 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`stream.started of ${streamId} not settled in time`);
  }

  /** Polls until the stream has thumbnails (the worker runs them shortly after the event). */
  async function waitForThumbnails(streamId: string) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await p.call('thumbnail', 'GET', `/streams/${streamId}/thumbnails`);
      if (res.status === 200 || Date.now() > deadline) return res;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  const generate = (streamId: string, user: { id: string; roles: ('viewer' | 'streamer' | 'admin')[] }, body = {}) =>
    p.call('thumbnail', 'POST', `/streams/${streamId}/thumbnails`, { user, body });

  /** Every size in both formats, each served with its content type and the right dimensions. */
  async function expectFullSet(set: TestBody) {
    expect(set.items).toHaveLength(SIZES.length * 2);
    for (const [width, height] of SIZES) {
      for (const format of ['webp', 'jpeg'] as const) {
        const item = set.items.find((i: TestBody) => i.size === `${width}x${height}` && i.format === format);
        expect(item, `${width}x${height} ${format}`).toMatchObject({ width, height });
        expect(item.url).toMatch(
          new RegExp(`^/thumbnails/${set.streamId}/${width}x${height}\\.${format}\\?v=[0-9a-f]{32}$`),
        );
        const file = await fetchFile(p, item.url);
        expect(file.status).toBe(200);
        expect(file.headers.get('content-type')).toBe(`image/${format}`);
        expect(file.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(file.headers.get('etag')).toBe(`"${item.url.split('v=')[1]}"`);
        expect(file.body.length).toBe(item.bytes);
        const meta = await sharp(file.body).metadata();
        expect([meta.format, meta.width, meta.height]).toEqual([format, width, height]);
      }
    }
  }

  describe('on stream.started', () => {
    it('when a stream starts, then its thumbnails appear in every size and both formats and are served', async () => {
      // contents → its outbox → the kit's relay → the bus → this service's consumer → the job worker.
      const { streamId } = await liveStream(p, { title: 'Ranked grind', categoryId });
      const res = await waitForThumbnails(streamId);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ streamId, source: 'card' });
      await expectFullSet(res.body);
    });

    it('when the same event is delivered again and again, then it is applied once and its job is gone', async () => {
      const { streamId } = await liveStream(p);
      const event = await startedEvent(streamId);
      await bus.publish([event, event, event]); // on top of the relay's own delivery
      await settled(streamId);
      const processed = await db.selectFrom('processed_events').selectAll().where('event_id', '=', event.id).execute();
      expect(processed).toHaveLength(1);
      expect(await db.selectFrom('jobs').selectAll().where('stream_id', '=', streamId).execute()).toEqual([]);
      expect(await filesUnder(join(dir, 'streams', streamId))).toHaveLength(6);
    });

    it('when contents does not know the stream, then the card is made from the event alone', async () => {
      const streamId = randomUUID();
      await bus.publish([
        {
          id: randomUUID(),
          type: 'stream.started',
          source: 'contents',
          key: streamId,
          occurredAt: new Date().toISOString(),
          data: {
            streamId,
            channelId: randomUUID(),
            ownerId: randomUUID(),
            title: 'From the event',
            categoryId: null,
            startedAt: new Date().toISOString(),
          },
        },
      ]);
      const res = await waitForThumbnails(streamId);
      expect(res.status).toBe(200);
      expect(res.body.source).toBe('card');
    });

    it('when on-demand generation races the event of a starting stream, then every listed URL is served and no file is left over', async () => {
      const { owner, streamId } = await liveStream(p);
      const results = await Promise.all([
        generate(streamId, owner, { title: 'Racing A' }),
        generate(streamId, owner, { title: 'Racing B' }),
      ]);
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      await settled(streamId);
      const listed = await p.call('thumbnail', 'GET', `/streams/${streamId}/thumbnails`);
      for (const item of listed.body.items) expect((await fetchFile(p, item.url)).status).toBe(200);
      expect(await filesUnder(join(dir, 'streams', streamId))).toHaveLength(6);
    });
  });

  describe('generation', () => {
    it('when a started stream gets thumbnails on demand, then every size exists in both formats and is served', async () => {
      const { owner, streamId } = await liveStream(p, {
        title: 'Speedrun <night> & "friends"',
        categoryId,
        start: false,
      });
      const res = await generate(streamId, owner);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ streamId, source: 'card' });
      // The channel's upload, then one transaction: advisory lock, delete the old set, insert the new one.
      expect(res.headers.get('livehouse-db-queries')).toBe('4');
      await expectFullSet(res.body);

      const listed = await p.call('thumbnail', 'GET', `/streams/${streamId}/thumbnails`);
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual(res.body);
      expect(listed.headers.get('livehouse-db-queries')).toBe('1');
    });

    it('when the same stream is generated again from the same inputs, then the URLs stay the same and no file is left over', async () => {
      const { owner, streamId } = await liveStream(p, { categoryId, start: false });
      const first = await generate(streamId, owner);
      const second = await generate(streamId, owner);
      expect(second.status).toBe(200);
      expect(second.body.items.map((i: TestBody) => i.url)).toEqual(first.body.items.map((i: TestBody) => i.url));
      expect(await filesUnder(join(dir, 'streams', streamId))).toHaveLength(6);

      // A new title is a new card: new URLs, and the old files are gone.
      const third = await generate(streamId, owner, { title: 'Another title' });
      expect(third.body.items[0].url).not.toBe(first.body.items[0].url);
      expect(await filesUnder(join(dir, 'streams', streamId))).toHaveLength(6);
      const stale = await fetchFile(p, first.body.items[0].url);
      expect(stale.status).toBe(200);
      expect(stale.headers.get('cache-control')).toBe('no-cache');
    });

    it('when the channel has an image URL and no upload, then the thumbnails are made from that image', async () => {
      const { owner, streamId } = await liveStream(p, { imageUrl: `${imageServerUrl}/blue.jpg`, start: false });
      const res = await generate(streamId, owner);
      expect(res.body.source).toBe('channel_image_url');
      const jpeg = res.body.items.find((i: TestBody) => i.format === 'jpeg' && i.size === '320x180');
      const { channels } = await sharp((await fetchFile(p, jpeg.url)).body).stats();
      expect(channels[2]!.mean).toBeGreaterThan(180); // blue
      expect(channels[0]!.mean).toBeLessThan(60);
    });

    it('when the image URL does not answer with an image, then the stream gets a card instead', async () => {
      const { owner, streamId } = await liveStream(p, { imageUrl: `${imageServerUrl}/missing.jpg`, start: false });
      const res = await generate(streamId, owner);
      expect(res.status).toBe(200);
      expect(res.body.source).toBe('card');
    });

    it('when someone else, or the BFF without a user, asks for generation, then 403 / 401; an unknown stream is 404', async () => {
      const { streamId } = await liveStream(p, { start: false });
      expect((await generate(streamId, newStreamer())).status).toBe(403);
      const anonymous = await p.call('thumbnail', 'POST', `/streams/${streamId}/thumbnails`, { body: {} });
      expect(anonymous.status).toBe(401);
      expect((await generate(randomUUID(), admin)).status).toBe(404);
      expect((await generate(streamId, admin, { channelId: randomUUID() })).status).toBe(400);
      expect((await generate(streamId, admin, { title: '' })).status).toBe(400);
      expect(await filesUnder(join(dir, 'streams', streamId))).toEqual([]);
    });
    it('when a generation commits while another with the same content is between its writes and its commit, then its files survive', async () => {
      // Deterministic interleaving through the service functions and a gated store: while a gate is set, each
      // put writes its file and then waits for the gate to open; `written` resolves once all six are waiting.
      const fs = new FilesystemStorage(dir);
      let gate: { open: Promise<void>; waiting: number; written: () => void } | undefined;
      const storage: ObjectStorage = {
        kind: 'gated',
        put: async (key, body, type) => {
          await fs.put(key, body, type);
          const held = gate;
          if (!held) return;
          if (++held.waiting === SIZES.length * 2) held.written();
          await held.open;
        },
        get: (key) => fs.get(key),
        delete: (keys) => fs.delete(keys),
      };
      const config = parseConfig({}, thumbnailConfig, { env: { LIVEHOUSE_INTERNAL_KEY: 'k'.repeat(32) } }).thumbnail;
      const quiet = { warn() {}, error() {}, info() {}, debug() {} } as unknown as ThumbnailDeps['log'];
      const deps: ThumbnailDeps = {
        db,
        storage,
        config,
        contents: undefined as unknown as ThumbnailDeps['contents'],
        remote: undefined,
        log: quiet,
        renders: new Semaphore(4),
        pending: new PendingWork(),
      };
      const streamId = randomUUID();
      const facts = (title: string) => ({ streamId, channelId: null, title, category: null, imageUrl: null });
      await generateSet(deps, facts('X'));
      const open = Promise.withResolvers<void>();
      const written = Promise.withResolvers<void>();
      gate = { open: open.promise, waiting: 0, written: written.resolve };
      const held = generateSet(deps, facts('X')); // same content as the committed set
      await written.promise; // its files are written; it waits before its commit
      gate = undefined;
      await generateSet(deps, facts('Y')); // commits and deletes the files of the set it replaced
      open.resolve();
      const final = await held;
      for (const item of final.items) expect((await fetchFile(p, item.url)).status).toBe(200);
      expect(await filesUnder(join(dir, 'streams', streamId))).toHaveLength(6);
    });
  });

  describe('serving', () => {
    it('when the ETag is sent back, then 304 without a body; an unknown size, format or stream is 404', async () => {
      const { owner, streamId } = await liveStream(p, { start: false });
      const { body } = await generate(streamId, owner);
      const url: string = body.items[0].url;
      const first = await fetchFile(p, url);
      const again = await fetchFile(p, url, { 'if-none-match': first.headers.get('etag')! });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      expect(again.headers.get('livehouse-db-queries')).toBe('1');

      const unversioned = await fetchFile(p, `/thumbnails/${streamId}/640x360.webp`);
      expect(unversioned.status).toBe(200);
      expect(unversioned.headers.get('cache-control')).toBe('public, max-age=60');
      expect((await fetchFile(p, `/thumbnails/${streamId}/100x100.webp`)).status).toBe(404);
      expect((await fetchFile(p, `/thumbnails/${streamId}/640x360.gif`)).status).toBe(400);
      expect((await fetchFile(p, `/thumbnails/${randomUUID()}/640x360.jpeg`)).status).toBe(404);
      expect((await fetchFile(p, `/thumbnails/not-a-uuid/640x360.jpeg`)).status).toBe(400);
    });

    it('when several streams are asked for at once, then one statement answers and streams without thumbnails are absent', async () => {
      const a = await liveStream(p, { start: false });
      const b = await liveStream(p, { start: false });
      await generate(a.streamId, a.owner);
      await generate(b.streamId, b.owner);
      const res = await p.call('thumbnail', 'GET', `/thumbnails?streamIds=${a.streamId},${randomUUID()},${b.streamId}`);
      expect(res.status).toBe(200);
      expect(res.body.items.map((s: TestBody) => s.streamId).sort()).toEqual([a.streamId, b.streamId].sort());
      expect(res.headers.get('livehouse-db-queries')).toBe('1');
    });
  });

  describe('channel image upload', () => {
    it('when the owner of a live channel uploads a PNG, then it is stored re-encoded and the stream is regenerated from it', async () => {
      const { owner, channelId, streamId } = await liveStream(p);
      await settled(streamId); // the card from stream.started
      const png = await solidImage(2400, 1350, 'png', { r: 240, g: 20, b: 20 });
      const res = await putImage(p, channelId, owner, png, 'image/png');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ channelId, width: 1920, height: 1080 });
      expect(await filesUnder(join(dir, 'channels', channelId))).toHaveLength(1);

      // The live stream is regenerated in the background.
      const deadline = Date.now() + 30_000;
      let set = await p.call('thumbnail', 'GET', `/streams/${streamId}/thumbnails`);
      while (set.body.source !== 'upload' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        set = await p.call('thumbnail', 'GET', `/streams/${streamId}/thumbnails`);
      }
      expect(set.body.source).toBe('upload');
      await expectFullSet(set.body);
      const jpeg = set.body.items.find((i: TestBody) => i.format === 'jpeg');
      const { channels } = await sharp((await fetchFile(p, jpeg.url)).body).stats();
      expect(channels[0]!.mean).toBeGreaterThan(200); // red

      // A second upload replaces the first file.
      const again = await putImage(p, channelId, owner, await solidImage(800, 450, 'webp'), 'image/webp');
      expect(again.status).toBe(200);
      expect(await filesUnder(join(dir, 'channels', channelId))).toHaveLength(1);
    });

    it('when the upload is bad, then it is rejected with 400, 403, 413 or 415 and nothing is written', async () => {
      const { owner, channelId, streamId } = await liveStream(p, { start: false });
      const jpeg = await solidImage(640, 360, 'jpeg');
      const cases: [string, () => Promise<{ status: number; body: TestBody }>, number, string][] = [
        ['text body', () => putImage(p, channelId, owner, 'hello', 'text/plain'), 415, 'unsupported_media_type'],
        ['JSON body', () => putImage(p, channelId, owner, '{}', 'application/json'), 415, 'unsupported_media_type'],
        ['no content type', () => putImage(p, channelId, owner, jpeg, undefined), 415, 'unsupported_media_type'],
        [
          'GIF as PNG',
          async () => putImage(p, channelId, owner, await solidImage(640, 360, 'gif'), 'image/png'),
          415,
          'unsupported_media_type',
        ],
        [
          'TIFF as JPEG',
          async () => putImage(p, channelId, owner, await solidImage(640, 360, 'tiff'), 'image/jpeg'),
          415,
          'unsupported_media_type',
        ],
        [
          'garbage as PNG',
          () => putImage(p, channelId, owner, Buffer.from('not an image at all'), 'image/png'),
          400,
          'bad_request',
        ],
        ['JPEG as PNG', () => putImage(p, channelId, owner, jpeg, 'image/png'), 400, 'bad_request'],
        [
          'truncated JPEG',
          () => putImage(p, channelId, owner, jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'image/jpeg'),
          400,
          'bad_request',
        ],
        [
          'tiny image',
          async () => putImage(p, channelId, owner, await solidImage(40, 20, 'png'), 'image/png'),
          400,
          'bad_request',
        ],
        ['empty body', () => putImage(p, channelId, owner, Buffer.alloc(0), 'image/png'), 400, 'bad_request'],
        [
          'too large',
          () => putImage(p, channelId, owner, Buffer.alloc(6 * 1024 * 1024, 1), 'image/png'),
          413,
          'payload_too_large',
        ],
        ['not the owner', () => putImage(p, channelId, newStreamer(), jpeg, 'image/jpeg'), 403, 'forbidden'],
        ['unknown channel', () => putImage(p, randomUUID(), admin, jpeg, 'image/jpeg'), 404, 'not_found'],
      ];
      for (const [name, send, status, code] of cases) {
        const res = await send();
        expect([name, res.status, res.body?.error?.code]).toEqual([name, status, code]);
      }
      expect(await filesUnder(join(dir, 'channels'))).not.toContainEqual(expect.stringContaining(channelId));
      expect(await db.selectFrom('channel_images').selectAll().where('channel_id', '=', channelId).execute()).toEqual(
        [],
      );
      expect((await generate(streamId, owner)).body.source).toBe('card');
    });

    it('when a decompression bomb claims a huge canvas, then it is refused from its header alone', async () => {
      const { owner, channelId } = await liveStream(p, { start: false });
      // A small PNG whose header claims 20000×20000 (1.6 GB decoded): the IHDR is rewritten, its CRC fixed.
      const bomb = Buffer.from(await solidImage(200, 200, 'png'));
      bomb.writeUInt32BE(20000, 16);
      bomb.writeUInt32BE(20000, 20);
      bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
      const res = await putImage(p, channelId, owner, bomb, 'image/png');
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/pixels/);
    });
  });
});
