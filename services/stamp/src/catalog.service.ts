import { createHash } from 'node:crypto';
import type { stamp } from '@livehouse/contracts';
import type { Kysely } from 'kysely';
import type { StampDatabase, StampRow } from './db.ts';
import * as repo from './stamp.repository.ts';

type Row = Pick<StampRow, 'id' | 'name' | 'image_url' | 'category' | 'price' | 'channel_id'>;

interface Snapshot {
  fingerprint: string;
  catalog: stamp.Catalog;
  etag: string;
}

/**
 * The stamp catalog, cached per process. Each read costs one cheap statement (count and latest
 * change) to learn whether the cache is current; the version is a hash of the content, so every
 * pod computes the same version (and ETag) for the same catalog.
 */
export class Catalog {
  readonly #db: Kysely<StampDatabase>;
  readonly #imageBaseUrl: string;
  #snapshot: Snapshot | undefined;

  constructor(db: Kysely<StampDatabase>, imageBaseUrl: string) {
    this.#db = db;
    this.#imageBaseUrl = imageBaseUrl;
  }

  toStamp = (row: Row): stamp.Stamp => ({
    id: row.id,
    name: row.name,
    imageUrl: new URL(row.image_url, this.#imageBaseUrl).toString(),
    category: row.category,
    price: row.price,
    channelId: row.channel_id,
  });

  async current(): Promise<Snapshot> {
    const fingerprint = await repo.catalogFingerprint(this.#db);
    if (this.#snapshot?.fingerprint === fingerprint) return this.#snapshot;
    const items = (await repo.listStamps(this.#db)).map(this.toStamp);
    const version = createHash('sha256').update(JSON.stringify(items)).digest('base64url').slice(0, 22);
    const snapshot = {
      fingerprint,
      catalog: { version, items },
      etag: `"${version}"`,
    };
    this.#snapshot = snapshot;
    return snapshot;
  }
}
