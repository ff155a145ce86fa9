import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { type ItemRow, insertItems, markDeleted } from './chat.repository.ts';
import type { ChatDatabase } from './db.ts';

/**
 * Writes the items this instance appended to PostgreSQL behind the log, in batches: one INSERT per
 * batch instead of one per message, and never on the path of a message to the room. The log (Redis)
 * answers history and resume; PostgreSQL keeps everything, and continues ids if Redis lost a room.
 * A crash loses at most the last unwritten batch from PostgreSQL (not from the room: it is in Redis).
 */
export class Persister {
  readonly #db: Kysely<ChatDatabase>;
  readonly #log: FastifyBaseLogger;
  readonly #intervalMs: number;
  #rows: ItemRow[] = [];
  #deletes: { streamId: string; id: number; at: Date }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #closed = false;
  /** Rows that failed are retried, up to this many, then dropped with an error log. */
  readonly #maxBacklog = 100_000;

  constructor(db: Kysely<ChatDatabase>, log: FastifyBaseLogger, intervalMs: number) {
    this.#db = db;
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  add(row: ItemRow) {
    this.#rows.push(row);
    this.#schedule();
  }

  delete(streamId: string, id: number, at: Date) {
    this.#deletes.push({ streamId, id, at });
    this.#schedule();
  }

  #schedule() {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#intervalMs);
  }

  /** Writes everything queued so far; resolves when it is stored (or has failed and was re-queued). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#write());
    return this.#flushing;
  }

  async #write() {
    const rows = this.#rows;
    const deletes = this.#deletes;
    this.#rows = [];
    this.#deletes = [];
    if (rows.length === 0 && deletes.length === 0) return;
    try {
      for (let i = 0; i < rows.length; i += 1000) await insertItems(this.#db, rows.slice(i, i + 1000));
      // A delete can name a message of this very batch: rows first.
      for (const d of deletes) await markDeleted(this.#db, d.streamId, [d.id], d.at);
    } catch (err) {
      this.#log.error({ err, rows: rows.length }, 'chat items could not be written; retrying');
      this.#rows = [...rows, ...this.#rows].slice(-this.#maxBacklog);
      this.#deletes = [...deletes, ...this.#deletes];
      this.#schedule();
    }
  }

  async close() {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
