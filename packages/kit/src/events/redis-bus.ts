import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { EventEnvelope } from '@livehouse/contracts';
import { Redis } from 'ioredis';
import {
  backoffMs,
  type EventBus,
  partitionOf,
  type SubscribeOptions,
  type Subscription,
  silentLog,
  Wakeable,
} from './bus.ts';

export interface RedisEventBusOptions {
  url: string;
  /** Prefix of every key; one per deployment (and per test run). */
  prefix?: string;
  /**
   * Streams the events are spread over by key. Fixed for a deployment: changing it moves keys to
   * other partitions and so loses their order while old entries are still unread.
   */
  partitions?: number;
  /** Approximate length each stream is trimmed to (XADD MAXLEN ~). */
  maxLen?: number;
  /** A consumer holds a partition this long without renewing; then another takes it and its unacknowledged entries. */
  leaseMs?: number;
  /** How long one XREADGROUP waits for new entries. */
  blockMs?: number;
  batchSize?: number;
}

// Renews a lease only if we still hold it; deletes it only if it is ours.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

type StreamEntry = [id: string, fields: string[] | null];
type ReadReply = [key: string, entries: StreamEntry[]][] | null;

/**
 * Redis Streams with consumer groups. Events go to one of `partitions` streams by key; in each
 * group one consumer at a time holds a partition (a lease renewed in Redis), so one key's events are
 * handled in order even with many pods. Entries are acknowledged (XACK) after the handler returned;
 * a consumer that took over a partition first claims (XAUTOCLAIM) and handles what its previous
 * holder left unacknowledged, then reads new entries.
 */
export class RedisEventBus implements EventBus {
  readonly kind = 'redis';
  readonly prefix: string;
  readonly partitions: number;
  readonly #redis: Redis;
  readonly #maxLen: number;
  readonly #leaseMs: number;
  readonly #blockMs: number;
  readonly #batchSize: number;
  readonly #subscriptions = new Set<Subscription>();

  constructor(options: RedisEventBusOptions) {
    this.prefix = options.prefix ?? 'livehouse:events:';
    this.partitions = options.partitions ?? 8;
    this.#maxLen = options.maxLen ?? 100_000;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#blockMs = options.blockMs ?? 1000;
    this.#batchSize = options.batchSize ?? 100;
    // Commands fail after 5 s rather than queueing forever: the relay then retries its batch.
    this.#redis = new Redis(options.url, { commandTimeout: 5000, maxRetriesPerRequest: 2 });
    this.#redis.on('error', () => {}); // reconnects by itself; failed commands surface where they are awaited
  }

  streamKey(partition: number) {
    return `${this.prefix}p${partition}`;
  }

  #leaseKey(group: string, partition: number) {
    return `${this.prefix}lease:${group}:${partition}`;
  }

  async publish(events: readonly EventEnvelope[]) {
    if (events.length === 0) return;
    // One MULTI: the batch is appended whole and in order, or (EXECABORT) not at all.
    const multi = this.#redis.multi();
    for (const event of events) {
      multi.xadd(
        this.streamKey(partitionOf(event.key, this.partitions)),
        'MAXLEN',
        '~',
        this.#maxLen,
        '*',
        'type',
        event.type,
        'e',
        JSON.stringify(event),
      );
    }
    const results = await multi.exec();
    if (!results) throw new Error('redis MULTI was aborted');
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async #ensureGroup(group: string) {
    for (let p = 0; p < this.partitions; p++) {
      // From the stream's start: a new service also sees what was published before it first ran.
      await this.#redis.xgroup('CREATE', this.streamKey(p), group, '0', 'MKSTREAM').catch((err: Error) => {
        if (!err.message.includes('BUSYGROUP')) throw err;
      });
    }
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const log = options.log ?? silentLog;
    const group = options.group;
    const me = options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    await this.#ensureGroup(group);
    const redis = this.#redis;
    // XREADGROUP BLOCK holds its connection: it gets its own.
    const reader = redis.duplicate({ commandTimeout: undefined, maxRetriesPerRequest: null });
    reader.on('error', () => {});
    const held = new Set<number>();
    /** Partitions where this consumer may have unacknowledged entries: read from its history ('0') first. */
    const pending = new Set<number>();
    const wakeable = new Wakeable();
    let stopped = false;
    let reading = false;

    const acquire = async (p: number) => {
      const ok = await redis.set(this.#leaseKey(group, p), me, 'PX', this.#leaseMs, 'NX');
      if (ok !== 'OK') return;
      // The lease is exclusive: whatever another consumer left unacknowledged here is ours now,
      // and is handled before any new entry of the partition.
      let cursor = '0-0';
      do {
        const reply = (await redis.call(
          'XAUTOCLAIM',
          this.streamKey(p),
          group,
          me,
          '0',
          cursor,
          'COUNT',
          '1000',
          'JUSTID',
        )) as [string, string[]];
        cursor = reply[0];
        if (reply[1].length > 0)
          log.info({ group, partition: p, claimed: reply[1].length }, 'claimed unacknowledged events');
      } while (cursor !== '0-0');
      pending.add(p);
      held.add(p);
    };

    const tendLeases = async () => {
      for (let p = 0; p < this.partitions && !stopped; p++) {
        try {
          if (held.has(p)) {
            const renewed = await redis.eval(RENEW, 1, this.#leaseKey(group, p), me, this.#leaseMs);
            if (renewed !== 1) {
              held.delete(p);
              log.warn({ group, partition: p }, 'lost the lease of a partition');
            }
          } else {
            await acquire(p);
          }
        } catch (err) {
          log.warn({ err, group, partition: p }, 'lease renewal failed');
        }
      }
    };
    const leaseTimer = setInterval(
      () => {
        void tendLeases().then(() => held.size > 0 && wakeable.wake());
      },
      Math.max(50, Math.floor(this.#leaseMs / 3)),
    );
    await tendLeases();

    const handleEntries = async (p: number, key: string, entries: StreamEntry[]) => {
      for (const [id, fields] of entries) {
        if (stopped || !held.has(p)) return false;
        const json = fields?.[fields.indexOf('e') + 1];
        let event: EventEnvelope | undefined;
        try {
          event = json ? (JSON.parse(json) as EventEnvelope) : undefined;
        } catch {
          event = undefined;
        }
        if (event) {
          try {
            await options.handle(event);
          } catch (err) {
            log.warn({ err, group, eventId: event.id, type: event.type }, 'event handler failed: retrying');
            pending.add(p);
            return true;
          }
        } else {
          // Trimmed away while pending, or not ours: nothing to handle.
          log.error({ group, id, key }, 'unreadable stream entry: acknowledged and skipped');
        }
        await redis.xack(key, group, id);
      }
      return false;
    };

    const loop = async () => {
      let failures = 0;
      while (!stopped) {
        const parts = [...held].sort((a, b) => a - b);
        if (parts.length === 0) {
          await wakeable.sleep(this.#leaseMs);
          continue;
        }
        const ids = parts.map((p) => (pending.has(p) ? '0' : '>'));
        const block = ids.includes('0') ? [] : ['BLOCK', String(this.#blockMs)];
        let reply: ReadReply;
        try {
          reading = true;
          reply = (await reader.call(
            'XREADGROUP',
            'GROUP',
            group,
            me,
            'COUNT',
            String(this.#batchSize),
            ...block,
            'STREAMS',
            ...parts.map((p) => this.streamKey(p)),
            ...ids,
          )) as ReadReply;
        } catch (err) {
          if (stopped) break;
          log.warn({ err, group }, 'XREADGROUP failed');
          await wakeable.sleep(backoffMs(failures++));
          continue;
        } finally {
          reading = false;
        }
        let failed = false;
        const byKey = new Map((reply ?? []).map(([key, entries]) => [key, entries]));
        for (const [i, p] of parts.entries()) {
          const key = this.streamKey(p);
          const entries = byKey.get(key) ?? [];
          if (ids[i] === '0' && entries.length === 0) pending.delete(p);
          try {
            if (await handleEntries(p, key, entries)) failed = true;
          } catch (err) {
            // XACK failed: the entry stays pending and is handled again (the consumer is idempotent).
            log.warn({ err, group }, 'XACK failed');
            pending.add(p);
            failed = true;
          }
        }
        if (failed) await wakeable.sleep(backoffMs(failures++));
        else failures = 0;
      }
    };
    const running = loop();

    const subscription: Subscription = {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        clearInterval(leaseTimer);
        wakeable.wake();
        if (reading) reader.disconnect();
        await running;
        reader.disconnect();
        // Hand the partitions over now rather than after the lease times out.
        await Promise.all(
          [...held].map((p) => redis.eval(RELEASE, 1, this.#leaseKey(group, p), me).catch(() => undefined)),
        );
        this.#subscriptions.delete(subscription);
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async drain() {
    // Redis keeps what was published; the next instance handles it.
  }

  async close() {
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  /** Tests: delete every key of this bus's prefix. */
  async destroy() {
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await this.#redis.del(...keys);
    } while (cursor !== '0');
  }
}
