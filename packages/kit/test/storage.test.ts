import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createObjectStorage, S3Storage } from '../src/storage/index.ts';
import { FakeS3 } from '../src/testing/fake-s3.ts';

const credentials = { accessKeyId: 'AKIDLIVEHOUSETEST', secretAccessKey: 'fake/secret+key' };
const region = 'ap-northeast-1';
const bucket = 'livehouse-objects';
const config = (endpoint: string, prefix = '') => ({
  kind: 's3' as const,
  bucket,
  endpoint,
  region,
  prefix,
  forcePathStyle: true,
  timeoutMs: 2000,
});

describe('S3 storage with static keys', () => {
  let s3: FakeS3;
  beforeAll(async () => {
    s3 = await new FakeS3({ bucket, region, ...credentials }).start();
  });
  afterAll(() => s3?.close());

  it('when an object is put, read and deleted, then every request carries a valid SigV4 signature', async () => {
    const storage = new S3Storage(config(s3.url, 'thumbs/'), credentials);
    const body = Buffer.from('some image bytes');
    await storage.put('streams/a/1x1-abc.webp', body, 'image/webp');
    expect(s3.objects.get('thumbs/streams/a/1x1-abc.webp')).toEqual({ body, contentType: 'image/webp' });
    expect(await storage.get('streams/a/1x1-abc.webp')).toEqual(body);
    await storage.delete(['streams/a/1x1-abc.webp', 'streams/a/never-there.webp']);
    expect(s3.objects.size).toBe(0);
    expect(await storage.get('streams/a/1x1-abc.webp')).toBeUndefined();
    expect(s3.requests.every((r) => r.status !== 403)).toBe(true);
  });

  it('when the secret is wrong, then the store refuses the signature and put fails without storing', async () => {
    const storage = new S3Storage(config(s3.url), { ...credentials, secretAccessKey: 'wrong' });
    await expect(storage.put('streams/b/x.webp', Buffer.from('x'), 'image/webp')).rejects.toThrow(/403/);
    expect(s3.objects.size).toBe(0);
  });

  it('when a key could escape its folder, then it is refused before any request', async () => {
    const storage = new S3Storage(config(s3.url), credentials);
    const before = s3.requests.length;
    await expect(storage.put('../other-bucket/x', Buffer.from('x'), 'image/webp')).rejects.toThrow(/unsafe/);
    expect(s3.requests.length).toBe(before);
  });

  it('when LIVEHOUSE_S3_* keys are in the environment, then the factory signs with them', async () => {
    const storage = createObjectStorage(config(s3.url), {
      internalKey: 'k'.repeat(32),
      s3AccessKeyId: credentials.accessKeyId,
      s3SecretAccessKey: credentials.secretAccessKey,
    });
    await storage.put('static/key.bin', Buffer.from('x'), 'application/octet-stream');
    expect(s3.objects.has('static/key.bin')).toBe(true);
  });
});

/**
 * EKS Pod Identity as a pod sees it: the agent's endpoint in AWS_CONTAINER_CREDENTIALS_FULL_URI, a projected token
 * in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE sent as the Authorization header, temporary credentials back. Here the
 * endpoint is a local fake (the SDK allows loopback http, as it allows 169.254.170.23).
 */
describe('S3 storage without keys: the AWS SDK default chain, through the container credentials endpoint', () => {
  const temporary = {
    accessKeyId: 'ASIAPODIDENTITY',
    secretAccessKey: 'temporary/secret',
    sessionToken: 'session-token-1',
  };
  const token = 'eks-pod-identity-token-value';
  const dir = mkdtempSync(join(tmpdir(), 'livehouse-pod-identity-'));
  const calls: (string | undefined)[] = [];
  let agent: Server;
  let s3: FakeS3;
  const saved: Record<string, string | undefined> = {};
  const AWS_ENV = [
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_CONFIG_FILE',
  ];

  beforeAll(async () => {
    for (const k of AWS_ENV) saved[k] = process.env[k];
    for (const k of AWS_ENV) delete process.env[k];
    agent = createServer((req, res) => {
      calls.push(req.headers.authorization);
      if (req.headers.authorization !== token) return res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          AccessKeyId: temporary.accessKeyId,
          SecretAccessKey: temporary.secretAccessKey,
          Token: temporary.sessionToken,
          AccountId: '111122223333',
          Expiration: new Date(Date.now() + 3600_000).toISOString(),
        }),
      );
    });
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    s3 = await new FakeS3({ bucket, region, ...temporary }).start();
    const tokenFile = join(dir, 'eks-pod-identity-token');
    writeFileSync(tokenFile, token);
    // Nowhere to read shared files from: the chain must reach the container endpoint.
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'none');
    process.env.AWS_CONFIG_FILE = join(dir, 'none');
    process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `http://127.0.0.1:${(agent.address() as AddressInfo).port}/v1/credentials`;
    process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = tokenFile;
  });
  afterAll(async () => {
    for (const k of AWS_ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await new Promise<void>((resolve) => agent?.close(() => resolve()));
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when no LIVEHOUSE_S3_* keys are set, then the object is signed with the temporary credentials and their session token', async () => {
    const storage = createObjectStorage(config(s3.url, 'archives/'), { internalKey: 'k'.repeat(32) });
    await storage.put('streams/s1/part-1.ts', Buffer.from('segment'), 'video/mp2t');
    await storage.put('streams/s1/part-2.ts', Buffer.from('segment 2'), 'video/mp2t');
    expect([...s3.objects.keys()].sort()).toEqual(['archives/streams/s1/part-1.ts', 'archives/streams/s1/part-2.ts']);
    expect(s3.requests.every((r) => r.status === 200)).toBe(true);
    // The projected token was presented, and the credentials were fetched once for both requests (memoized).
    expect(calls).toEqual([token]);
  });

  it('when the token is wrong, then the agent refuses and nothing is stored', async () => {
    writeFileSync(process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as string, 'stolen');
    const before = s3.objects.size;
    const storage = createObjectStorage(config(s3.url), { internalKey: 'k'.repeat(32) });
    await expect(storage.put('streams/s2/x.ts', Buffer.from('x'), 'video/mp2t')).rejects.toThrow();
    expect(s3.objects.size).toBe(before);
    writeFileSync(process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as string, token);
  });
});
