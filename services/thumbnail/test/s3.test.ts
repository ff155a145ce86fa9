import { randomUUID } from 'node:crypto';
import { contentsService } from '@livehouse/contents';
import { generateDevSecrets, InProcessEventBus, InternalAuth, type Platform, startPlatform } from '@livehouse/kit';
import { dbKinds, openTestBackend, type TestBackend, type TestBody } from '@livehouse/kit/testing';
import { FakeS3 } from '@livehouse/kit/testing/fake-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbnailService } from '../src/index.ts';
import { admin, newStreamer, solidImage } from './helpers.ts';

const credentials = { accessKeyId: 'AKIDLIVEHOUSETEST', secretAccessKey: 'fake/secret+key' };
const region = 'ap-northeast-1';
const bucket = 'livehouse-thumbs';

const storageConfig = (endpoint: string, prefix = '') => ({
  kind: 's3' as const,
  bucket,
  endpoint,
  region,
  prefix,
  forcePathStyle: true,
  timeoutMs: 10_000,
});

describe.each(dbKinds)('thumbnail with S3 storage on %s', (kind) => {
  let s3: FakeS3;
  let backend: TestBackend;
  let platform: Platform;
  let bus: InProcessEventBus;
  let auth: InternalAuth;

  beforeAll(async () => {
    s3 = await new FakeS3({ bucket, region, ...credentials }).start();
    backend = await openTestBackend(kind);
    bus = new InProcessEventBus();
    const secrets = generateDevSecrets();
    auth = new InternalAuth(secrets.LIVEHOUSE_INTERNAL_KEY as string);
    platform = await startPlatform([contentsService, thumbnailService], {
      backend: backend.backend,
      schemaPrefix: backend.schemaPrefix,
      bus,
      // Credentials come from the environment, never from the YAML.
      env: {
        ...secrets,
        LIVEHOUSE_S3_ACCESS_KEY_ID: credentials.accessKeyId,
        LIVEHOUSE_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      },
      config: (name) => ({
        log: { level: 'silent' },
        ...(name === 'thumbnail' && {
          thumbnail: { storage: storageConfig(s3.url, 'thumbs/'), jobs: { pollMs: 50, retryBaseMs: 20 } },
        }),
      }),
    });
  });
  afterAll(async () => {
    await platform?.close();
    await bus?.close();
    await backend?.close();
    await s3?.close();
  });

  async function call(
    name: string,
    method: string,
    path: string,
    user?: { id: string; roles: string[] },
    body?: unknown,
  ) {
    const token = await auth.sign({ service: 'bff', ...(user && { user }) } as Parameters<InternalAuth['sign']>[0]);
    const res = await fetch(platform.url(name) + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const type = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      headers: res.headers,
      body: (type.startsWith('application/json') ? await res.json() : Buffer.from(await res.arrayBuffer())) as TestBody,
    };
  }

  /** A scheduled stream: not started, so no stream.started races with what a test does. */
  async function newStream() {
    const owner = newStreamer();
    const channel = await call('contents', 'POST', '/channels', owner, { title: 'S3 channel' });
    const stream = await call('contents', 'POST', `/channels/${channel.body.channel.id}/streams`, owner, {
      title: 'Stored far away',
    });
    expect(stream.status).toBe(201);
    return { owner, channelId: channel.body.channel.id as string, streamId: stream.body.id as string };
  }

  it('when thumbnails are generated, then each file is a signed PUT into the bucket and is served back from it', async () => {
    const { owner, streamId } = await newStream();
    const res = await call('thumbnail', 'POST', `/streams/${streamId}/thumbnails`, owner, {});
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(6);
    const keys = [...s3.objects.keys()].filter((k) => k.startsWith(`thumbs/streams/${streamId}/`));
    expect(keys).toHaveLength(6);
    for (const item of res.body.items) {
      const file = await call('thumbnail', 'GET', item.url);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe(`image/${item.format}`);
      const meta = await sharp(file.body).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual([item.format, item.width, item.height]);
      const prefix = `thumbs/streams/${streamId}/${item.size}-${item.url.split('v=')[1]}-`;
      const stored = [...s3.objects].find(([key]) => key.startsWith(prefix))?.[1];
      expect(stored?.contentType).toBe(`image/${item.format}`);
      expect(Buffer.compare(stored!.body, file.body)).toBe(0);
    }
    expect(s3.requests.filter((r) => r.status === 403)).toEqual([]);
  });

  it('when the store fails for a while, then the stream.started job is retried until the thumbnails exist', async () => {
    const { channelId, streamId } = await newStream();
    // Six files, each tried three times by aws4fetch (retries: 2): 18 failures fail the first job attempt.
    s3.failPuts = 18;
    await bus.publish([
      {
        id: randomUUID(),
        type: 'stream.started',
        source: 'contents',
        key: streamId,
        occurredAt: new Date().toISOString(),
        data: {
          streamId,
          channelId,
          ownerId: admin.id,
          title: 'Flaky',
          categoryId: null,
          startedAt: new Date().toISOString(),
        },
      },
    ]);
    const deadline = Date.now() + 30_000;
    let res = await call('thumbnail', 'GET', `/streams/${streamId}/thumbnails`);
    while (res.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      res = await call('thumbnail', 'GET', `/streams/${streamId}/thumbnails`);
    }
    expect(res.status).toBe(200);
    expect(s3.failPuts).toBe(0);
    const metrics = await platform.services
      .get('thumbnail')!
      .built.metrics.registry.getSingleMetricAsString('thumbnail_jobs_total');
    expect(metrics).toMatch(/outcome="retry"[^\n]* 1/);
  });

  it('when the owner uploads an image, then it is validated, re-encoded and stored in the bucket', async () => {
    const { owner, channelId } = await newStream();
    const token = await auth.sign({ service: 'bff', user: { id: owner.id, roles: ['streamer'] } });
    const put = (body: Buffer, type: string) =>
      fetch(`${platform.url('thumbnail')}/channels/${channelId}/image`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        body: new Uint8Array(body),
      });
    const before = s3.objects.size;
    expect((await put(Buffer.from('nope'), 'image/jpeg')).status).toBe(400);
    expect(s3.objects.size).toBe(before);
    expect((await put(await solidImage(800, 450, 'jpeg'), 'image/jpeg')).status).toBe(200);
    const stored = [...s3.objects.entries()].find(([k]) => k.startsWith(`thumbs/channels/${channelId}/`));
    expect(stored?.[1].contentType).toBe('image/webp');
    expect((await sharp(stored![1].body).metadata()).format).toBe('webp');
  });
});
