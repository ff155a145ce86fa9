import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { SessionLock } from './pglite-dialect.ts';

export type NotifyHandler = (payload: string) => void;
/** Stops one subscription. */
export type Unlisten = () => Promise<void>;

/**
 * LISTEN/NOTIFY for background work that would otherwise poll (the outbox relays). PostgreSQL delivers a
 * notification only when the notifying transaction commits, so a listener never wakes before the rows exist.
 */
export interface Notifier {
  listen(channel: string, onNotify: NotifyHandler): Promise<Unlisten>;
  close(): Promise<void>;
}

class Subscribers {
  readonly #byChannel = new Map<string, Set<NotifyHandler>>();

  add(channel: string, handler: NotifyHandler) {
    const set = this.#byChannel.get(channel) ?? new Set();
    set.add(handler);
    this.#byChannel.set(channel, set);
    return set.size === 1;
  }

  /** Returns whether the channel has no subscriber left. */
  remove(channel: string, handler: NotifyHandler) {
    const set = this.#byChannel.get(channel);
    set?.delete(handler);
    if (set && set.size === 0) this.#byChannel.delete(channel);
    return !this.#byChannel.has(channel);
  }

  channels() {
    return [...this.#byChannel.keys()];
  }

  deliver(channel: string, payload: string) {
    for (const handler of this.#byChannel.get(channel) ?? []) handler(payload);
  }
}

/**
 * One dedicated connection per process (outside the pool, which would hand it to queries), re-established
 * with backoff when it drops; listeners fall back to their safety poll meanwhile.
 */
export class PostgresNotifier implements Notifier {
  readonly #url: string;
  readonly #subscribers = new Subscribers();
  #client: Promise<pg.Client> | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(url: string) {
    this.#url = url;
  }

  async listen(channel: string, onNotify: NotifyHandler): Promise<Unlisten> {
    if (this.#subscribers.add(channel, onNotify)) {
      const client = await this.#connected().catch(() => undefined);
      await client?.query(`listen ${pg.escapeIdentifier(channel)}`).catch(() => this.#drop());
    }
    return async () => {
      if (!this.#subscribers.remove(channel, onNotify) || !this.#client) return;
      const client = await this.#client.catch(() => undefined);
      await client?.query(`unlisten ${pg.escapeIdentifier(channel)}`).catch(() => {});
    };
  }

  #connected(): Promise<pg.Client> {
    this.#client ??= (async () => {
      const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 5000 });
      client.on('error', () => this.#drop());
      client.on('end', () => this.#drop());
      client.on('notification', (msg) => this.#subscribers.deliver(msg.channel, msg.payload ?? ''));
      await client.connect();
      for (const channel of this.#subscribers.channels()) await client.query(`listen ${pg.escapeIdentifier(channel)}`);
      this.#failures = 0;
      return client;
    })();
    this.#client.catch(() => this.#drop());
    return this.#client;
  }

  #drop() {
    const old = this.#client;
    this.#client = undefined;
    void old?.then((c) => c.end()).catch(() => {});
    if (this.#closed || this.#retry || this.#subscribers.channels().length === 0) return;
    const delay = Math.min(30_000, 250 * 2 ** this.#failures++);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) void this.#connected().catch(() => {});
    }, delay);
    this.#retry.unref();
  }

  async close() {
    this.#closed = true;
    clearTimeout(this.#retry);
    const client = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}

/** PGlite is one session shared by every service: LISTEN runs under the session lock, never inside a transaction. */
export class PGliteNotifier implements Notifier {
  readonly #pg: PGlite;
  readonly #lock: SessionLock;
  readonly #subscribers = new Subscribers();
  readonly #unlisten = new Map<string, () => Promise<void>>();

  constructor(pglite: PGlite, lock: SessionLock) {
    this.#pg = pglite;
    this.#lock = lock;
  }

  async listen(channel: string, onNotify: NotifyHandler): Promise<Unlisten> {
    if (this.#subscribers.add(channel, onNotify)) {
      await this.#locked(async () => {
        this.#unlisten.set(channel, await this.#pg.listen(channel, (p) => this.#subscribers.deliver(channel, p)));
      });
    }
    return async () => {
      if (!this.#subscribers.remove(channel, onNotify)) return;
      const stop = this.#unlisten.get(channel);
      this.#unlisten.delete(channel);
      if (stop && !this.#pg.closed) await this.#locked(stop).catch(() => {});
    };
  }

  async #locked<T>(fn: () => Promise<T>) {
    const release = await this.#lock.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  async close() {
    this.#unlisten.clear();
  }
}
