import { createHash } from 'node:crypto';
import { AwsClient } from 'aws4fetch';
import { assertSafeKey, type ObjectStorage, type S3StorageConfig } from './storage.ts';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** Returns current credentials; a provider may refresh them (temporary credentials expire). */
export type S3CredentialProvider = () => Promise<S3Credentials>;

/**
 * The AWS SDK's default chain (environment, IRSA web identity, ECS/EKS Pod Identity container endpoint, shared
 * files, instance metadata), memoized and refreshed before expiry by the SDK. Loaded on first use, so services
 * that never touch S3 never load it.
 */
export function defaultCredentialChain(): S3CredentialProvider {
  let provider: S3CredentialProvider | undefined;
  return async () => {
    if (!provider) {
      const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
      provider = defaultProvider();
    }
    return provider();
  };
}

/**
 * Objects in an S3-compatible bucket through plain HTTP requests signed with SigV4 by aws4fetch
 * (a few KB, no dependencies, WebCrypto + fetch) instead of the AWS SDK's S3 client: PUT, GET and DELETE of
 * single objects are all the services need. Credentials: static, or a provider (the SDK's default chain).
 */
export class S3Storage implements ObjectStorage {
  readonly kind = 's3';
  readonly #credentials: S3CredentialProvider;
  #client: { credentials: S3Credentials; aws: AwsClient } | undefined;
  readonly #config: S3StorageConfig;
  readonly #base: string;

  constructor(config: S3StorageConfig, credentials: S3Credentials | S3CredentialProvider = defaultCredentialChain()) {
    this.#config = config;
    this.#credentials = typeof credentials === 'function' ? credentials : async () => credentials;
    const endpoint = new URL(config.endpoint);
    this.#base = config.forcePathStyle
      ? `${endpoint.origin}/${config.bucket}/`
      : `${endpoint.protocol}//${config.bucket}.${endpoint.host}/`;
  }

  #url(key: string) {
    assertSafeKey(key);
    return this.#base + this.#config.prefix + key;
  }

  /** A signer for the current credentials (a new one once the provider hands out refreshed ones). */
  async #signer() {
    const credentials = await this.#credentials();
    if (this.#client?.credentials !== credentials) {
      this.#client = {
        credentials,
        aws: new AwsClient({
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          ...(credentials.sessionToken && { sessionToken: credentials.sessionToken }),
          service: 's3',
          region: this.#config.region,
          // aws4fetch retries 5xx and 429 with backoff (10 times by default): keep a request's worst case short.
          retries: 2,
        }),
      };
    }
    return this.#client.aws;
  }

  async #fetch(method: string, key: string, init: { body?: Buffer; headers?: Record<string, string> } = {}) {
    const url = this.#url(key);
    return (await this.#signer()).fetch(url, {
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
