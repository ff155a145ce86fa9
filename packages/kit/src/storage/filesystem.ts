import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { assertSafeKey, type ObjectStorage } from './storage.ts';

/** Objects as files under one folder; each write lands whole (temporary file, then rename). */
export class FilesystemStorage implements ObjectStorage {
  readonly kind = 'filesystem';
  readonly root: string;

  constructor(dir: string) {
    this.root = resolve(dir);
  }

  #path(key: string) {
    assertSafeKey(key);
    return join(this.root, key);
  }

  async put(key: string, body: Buffer, _contentType?: string) {
    const path = this.#path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, body);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string) {
    try {
      return await readFile(this.#path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(keys: readonly string[]) {
    await Promise.all(keys.map((key) => rm(this.#path(key), { force: true })));
  }
}
