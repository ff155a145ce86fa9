import type { InternalAuth } from '@livehouse/kit';
import { LRUCache } from 'lru-cache';
import { Counter, Gauge, type Registry } from 'prom-client';
import { Pool } from 'undici';
import type { EdgeConfig } from './config.ts';

/** What the edge serves, for metrics and cache rules. */
export type Kind = 'master' | 'playlist' | 'archive' | 'segment' | 'status';

export interface Entry {
  status: number;
  body: Buffer;
  contentType: string;
  /** Epoch ms after which it is fetched again. */
  expires: number;
}

export type CacheResult = 'hit' | 'miss' | 'coalesced' | 'held';
/** An answer and how the cache got it (the `x-cache` header). */
export type Served = Entry & { cache: CacheResult };

function edgeMetrics(registry: Registry) {
  const requests = new Counter({
    name: 'edge_requests_total',
    help: 'Viewer requests by kind and cache result (hit, miss, coalesced, held)',
    labelNames: ['kind', 'result'],
    registers: [registry],
  });
  const hits = { hit: 0, total: 0 };
  return {
    requests,
    hits,
    originFetches: new Counter({
      name: 'edge_origin_fetches_total',
      help: 'Requests sent to the origin by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    originErrors: new Counter({
      name: 'edge_origin_errors_total',
      help: 'Origin fetches that failed (unreachable, timeout, 5xx)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    held: new Gauge({
      name: 'edge_held_requests',
      help: 'Blocking playlist reloads being held until their segment exists',
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'edge_bytes_sent_total',
      help: 'Body bytes sent to viewers by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    cacheBytes: new Gauge({ name: 'edge_cache_bytes', help: 'Bytes held in the cache', registers: [registry] }),
    hitRatio: new Gauge({
      name: 'edge_cache_hit_ratio',
      help: 'Viewer requests answered without an origin fetch of their own (hits and coalesced), since start',
      registers: [registry],
      collect() {
        this.set(hits.total === 0 ? 0 : hits.hit / hits.total);
      },
    }),
  };
}

/**
 * The edge's whole state: an LRU of origin answers (bounded by bytes) and the origin fetches in
 * flight. Identical concurrent requests share one fetch; nothing here is needed by another edge.
 */
export class EdgeCache {
  readonly metrics: ReturnType<typeof edgeMetrics>;
  readonly #config: EdgeConfig;
  readonly #cache: LRUCache<string, Entry>;
  readonly #inflight = new Map<string, Promise<Entry>>();
  readonly #pool: Pool;
  readonly #auth: InternalAuth;
  #token: { value: string; until: number } | undefined;

  constructor(config: EdgeConfig, origin: string, auth: InternalAuth, registry: Registry) {
    this.#config = config;
    this.#auth = auth;
    this.metrics = edgeMetrics(registry);
    this.#cache = new LRUCache<string, Entry>({
      maxSize: config.cacheBytes,
      sizeCalculation: (e) => Math.max(1, e.body.length + 200),
    });
    this.#pool = new Pool(origin, {
      connections: config.originConnections,
      headersTimeout: config.originTimeoutMs + config.blockingReloadMs,
      bodyTimeout: config.originTimeoutMs,
      keepAliveTimeout: 10_000,
    });
  }

  close() {
    return this.#pool.close();
  }

  /** Tokens live 60 s: one is signed every 20 s, not per request. */
  async #authorization() {
    const now = Date.now();
    if (!this.#token || this.#token.until < now) {
      this.#token = { value: `Bearer ${await this.#auth.sign({ service: 'edge' })}`, until: now + 20_000 };
    }
    return this.#token.value;
  }

  #ttl(kind: Kind, entry: Omit<Entry, 'expires'>) {
    const c = this.#config;
    if (entry.status === 404) return c.notFoundTtlMs;
    if (entry.status !== 200) return 0;
    if (kind === 'segment') return 3600_000;
    if (kind === 'master') return c.masterTtlMs;
    if (kind === 'status') return 1000;
    // A playlist with ENDLIST never changes again.
    return entry.body.includes('#EXT-X-ENDLIST') ? c.staticPlaylistTtlMs : c.playlistTtlMs;
  }

  /** A fresh cached answer, or one fetch shared by everyone asking for `key` meanwhile. */
  async get(kind: Kind, path: string, options: { query?: string; cacheKey?: string } = {}) {
    const key = options.cacheKey ?? path;
    const cached = this.#cache.get(key);
    if (cached && cached.expires > Date.now()) return this.#count(kind, 'hit', cached);
    const pending = this.#inflight.get(key + (options.query ?? ''));
    if (pending) return this.#count(kind, 'coalesced', await pending);
    const fetching = this.#fetch(kind, path, options.query).finally(() =>
      this.#inflight.delete(key + (options.query ?? '')),
    );
    this.#inflight.set(key + (options.query ?? ''), fetching);
    const entry = await fetching;
    if (entry.status < 500) this.#store(key, entry);
    return this.#count(kind, 'miss', entry);
  }

  #store(key: string, entry: Entry) {
    if (entry.expires <= Date.now()) return;
    this.#cache.set(key, entry);
    this.metrics.cacheBytes.set(this.#cache.calculatedSize);
  }

  /**
   * A blocking playlist reload (`_HLS_msn=N`): answered from the cache when the cached playlist
   * already has segment N; else held on one origin request per N (the origin holds it until N lands).
   */
  async blocking(path: string, msn: number, newest: (body: Buffer) => number) {
    const cached = this.#cache.get(path);
    if (cached && cached.status === 200 && newest(cached.body) >= msn) return this.#count('playlist', 'hit', cached);
    this.metrics.held.inc();
    try {
      const key = `${path}?_HLS_msn=${msn}`;
      let pending = this.#inflight.get(key);
      const shared = pending !== undefined;
      if (!pending) {
        pending = this.#fetch('playlist', path, `?_HLS_msn=${msn}`).finally(() => this.#inflight.delete(key));
        this.#inflight.set(key, pending);
      }
      const entry = await pending;
      // The newest playlist seen replaces the plain cached one: plain requests get it too.
      if (!shared && entry.status === 200) {
        const current = this.#cache.get(path);
        if (current?.status !== 200 || newest(current.body) <= newest(entry.body)) this.#store(path, entry);
      }
      return this.#count('playlist', shared ? 'coalesced' : 'held', entry);
    } finally {
      this.metrics.held.dec();
    }
  }

  #count(kind: Kind, result: CacheResult, entry: Entry): Served {
    this.metrics.requests.inc({ kind, result });
    this.metrics.hits.total++;
    if (result === 'hit' || result === 'coalesced') this.metrics.hits.hit++;
    return { ...entry, cache: result };
  }

  async #fetch(kind: Kind, path: string, query = ''): Promise<Entry> {
    this.metrics.originFetches.inc({ kind });
    try {
      const res = await this.#pool.request({
        method: 'GET',
        path: `/media${path}${query}`,
        headers: { authorization: await this.#authorization() },
        signal: AbortSignal.timeout(this.#config.originTimeoutMs + (query ? this.#config.blockingReloadMs : 0)),
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      const contentType = String(res.headers['content-type'] ?? 'application/octet-stream');
      if (res.statusCode >= 500) this.metrics.originErrors.inc({ kind });
      const entry = { status: res.statusCode, body, contentType };
      return { ...entry, expires: Date.now() + this.#ttl(kind, entry) };
    } catch {
      this.metrics.originErrors.inc({ kind });
      return { status: 503, body: Buffer.alloc(0), contentType: 'application/json', expires: 0 };
    }
  }
}
