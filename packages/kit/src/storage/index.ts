// Object storage for services that keep files: `@livehouse/kit/storage` (a subpath, so that services without
// files never load it).
export { FilesystemStorage } from './filesystem.ts';
export { defaultCredentialChain, type S3CredentialProvider, type S3Credentials, S3Storage } from './s3.ts';
export {
  assertSafeKey,
  createObjectStorage,
  type ObjectStorage,
  type ObjectStorageConfig,
  objectStorageConfig,
  type S3StorageConfig,
} from './storage.ts';
