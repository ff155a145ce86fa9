import { createHash } from 'node:crypto';
import { AwsClient } from 'aws4fetch';
import type { S3StorageConfig } from '../config.ts';
import { assertSafeKey, type ObjectStorage } from './storage.ts';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/**
 * Objects in an S3-compatible bucket through plain HTTP requests signed with SigV4 by aws4fetch
 * (a few KB, no dependencies, WebCrypto + fetch) instead of the AWS SDK: PUT, GET and DELETE of
 * single objects are all this service needs.
 */
export class S3Storage implements ObjectStorage {
  readonly kind = 's3';
  readonly #client: AwsClient;
  readonly #config: S3StorageConfig;
  readonly #base: string;

  constructor(config: S3StorageConfig, credentials: S3Credentials) {
    this.#config = config;
    this.#client = new AwsClient({
      ...credentials,
      service: 's3',
      region: config.region,
      // aws4fetch retries 5xx and 429 with backoff (10 times by default): keep a request's worst case short.
      retries: 2,
    });
    const endpoint = new URL(config.endpoint);
    this.#base = config.forcePathStyle
      ? `${endpoint.origin}/${config.bucket}/`
      : `${endpoint.protocol}//${config.bucket}.${endpoint.host}/`;
  }

  #url(key: string) {
    assertSafeKey(key);
    return this.#base + this.#config.prefix + key;
  }

  async #fetch(method: string, key: string, init: { body?: Buffer; headers?: Record<string, string> } = {}) {
    return this.#client.fetch(this.#url(key), {
      method,
      ...(init.headers && { headers: init.headers }),
      ...(init.body && { body: new Uint8Array(init.body) }),
      signal: AbortSignal.timeout(this.#config.timeoutMs),
    });
  }

  async put(key: string, body: Buffer, contentType: string) {
    // The payload's hash is signed too (aws4fetch sends UNSIGNED-PAYLOAD otherwise): S3 rejects a corrupted body.
    const sha256 = createHash('sha256').update(body).digest('hex');
    const res = await this.#fetch('PUT', key, {
      body,
      headers: { 'content-type': contentType, 'x-amz-content-sha256': sha256 },
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`S3 PUT ${key} answered ${res.status}`);
  }

  async get(key: string) {
    const res = await this.#fetch('GET', key);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`S3 GET ${key} answered ${res.status}`);
    }
    return Buffer.from(await res.arrayBuffer());
  }

  async delete(keys: readonly string[]) {
    await Promise.all(
      keys.map(async (key) => {
        const res = await this.#fetch('DELETE', key);
        await res.body?.cancel();
        // S3 answers 204 for a missing key too; 404 from other stores means the same.
        if (!res.ok && res.status !== 404) throw new Error(`S3 DELETE ${key} answered ${res.status}`);
      }),
    );
  }
}
