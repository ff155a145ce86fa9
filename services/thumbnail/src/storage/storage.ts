import { ConfigError, type Secrets } from '@livehouse/kit';
import type { StorageConfig } from '../config.ts';
import { FilesystemStorage } from './filesystem.ts';
import { S3Storage } from './s3.ts';

/** Where the image files live: a folder when embedded, an S3-compatible bucket in production. */
export interface ObjectStorage {
  readonly kind: string;
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The object's bytes, or undefined when there is no such object. */
  get(key: string): Promise<Buffer | undefined>;
  /** Deletes objects; missing ones are not an error. */
  delete(keys: readonly string[]): Promise<void>;
}

/** Keys are made by this service from ids and hashes; anything else is a bug, never a path to follow. */
const SAFE_KEY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/i;

export function assertSafeKey(key: string) {
  if (!SAFE_KEY.test(key) || key.length > 512) throw new Error(`unsafe storage key ${JSON.stringify(key)}`);
}

export function createStorage(config: StorageConfig, secrets: Secrets): ObjectStorage {
  if (config.kind === 'filesystem') return new FilesystemStorage(config.dir);
  const accessKeyId = secrets.s3AccessKeyId;
  const secretAccessKey = secrets.s3SecretAccessKey;
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError('thumbnail', [
      'thumbnail.storage.kind s3 needs LIVEHOUSE_S3_ACCESS_KEY_ID and LIVEHOUSE_S3_SECRET_ACCESS_KEY (environment)',
    ]);
  }
  return new S3Storage(config, { accessKeyId, secretAccessKey, sessionToken: secrets.s3SessionToken });
}
