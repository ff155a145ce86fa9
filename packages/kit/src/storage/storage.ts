import { type Static, Type } from 'typebox';
import type { Secrets } from '../config.ts';
import { FilesystemStorage } from './filesystem.ts';
import { S3Storage } from './s3.ts';

/**
 * Where a service keeps files (thumbnails, archives): a folder when embedded, an S3-compatible bucket in production.
 * One interface, so that a service never knows which.
 */
export interface ObjectStorage {
  readonly kind: string;
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The object's bytes, or undefined when there is no such object. */
  get(key: string): Promise<Buffer | undefined>;
  /** Deletes objects; missing ones are not an error. */
  delete(keys: readonly string[]): Promise<void>;
}

/** Keys are made by services from ids and hashes; anything else is a bug, never a path to follow. */
const SAFE_KEY = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/i;

export function assertSafeKey(key: string) {
  if (!SAFE_KEY.test(key) || key.length > 512) throw new Error(`unsafe storage key ${JSON.stringify(key)}`);
}

const FilesystemStorageConfig = (defaultDir: string) =>
  Type.Object(
    {
      kind: Type.Literal('filesystem'),
      /** Relative paths resolve against the working directory (where `livehouse up` keeps `.livehouse/`). */
      dir: Type.String({ minLength: 1, default: defaultDir }),
    },
    { additionalProperties: false },
  );

/** Any S3-compatible store (AWS S3, MinIO, R2, …). Credentials: see `createObjectStorage`. */
const S3StorageConfig = Type.Object(
  {
    kind: Type.Literal('s3'),
    bucket: Type.String({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$' }),
    /** e.g. https://s3.ap-northeast-1.amazonaws.com or http://minio:9000 */
    endpoint: Type.String({ pattern: '^https?://[^/]+/?$' }),
    region: Type.String({ minLength: 1, default: 'us-east-1' }),
    /** Key prefix inside the bucket, e.g. `thumbnails/`. */
    prefix: Type.String({ pattern: '^([a-z0-9._-]+/)*$', default: '' }),
    /** `endpoint/bucket/key` (MinIO and most S3-compatible stores) rather than `bucket.endpoint/key`. */
    forcePathStyle: Type.Boolean({ default: true }),
    timeoutMs: Type.Integer({ minimum: 100, default: 5000 }),
  },
  { additionalProperties: false },
);

/** The config schema of a storage section; `defaultDir` is where an embedded run keeps the files. */
export function objectStorageConfig(defaultDir: string) {
  return Type.Union([FilesystemStorageConfig(defaultDir), S3StorageConfig], {
    default: { kind: 'filesystem', dir: defaultDir },
  });
}

export type S3StorageConfig = Static<typeof S3StorageConfig>;
export type ObjectStorageConfig = Static<ReturnType<typeof objectStorageConfig>>;

/**
 * The storage a config names. S3 credentials: static keys when LIVEHOUSE_S3_ACCESS_KEY_ID and
 * LIVEHOUSE_S3_SECRET_ACCESS_KEY are set (MinIO, R2, a laptop); otherwise the AWS SDK's default credential chain —
 * on EKS the Pod Identity agent (AWS_CONTAINER_CREDENTIALS_FULL_URI) or IRSA's web identity token, refreshed
 * before they expire, so no key is ever stored.
 */
export function createObjectStorage(config: ObjectStorageConfig, secrets: Secrets): ObjectStorage {
  if (config.kind === 'filesystem') return new FilesystemStorage(config.dir);
  const { s3AccessKeyId: accessKeyId, s3SecretAccessKey: secretAccessKey, s3SessionToken: sessionToken } = secrets;
  if (accessKeyId && secretAccessKey) return new S3Storage(config, { accessKeyId, secretAccessKey, sessionToken });
  return new S3Storage(config);
}
