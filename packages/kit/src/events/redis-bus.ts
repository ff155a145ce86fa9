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
  /** Where to connect, or `redis`: the process's shared client (the bus then leaves closing it to its owner). */
  url?: string;
  redis?: Redis;
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
  /**
   * An entry unacknowledged this long in a partition we hold is claimed (XAUTOCLAIM) and handled again:
   * what a consumer that lost its lease had read but not handled. Default: twice `leaseMs`.
   */
  claimIdleMs?: number;
  /** How long one XREADGROUP waits for new entries. */
  blockMs?: number;
  batchSize?: number;
}

// Renews a lease only if we still hold it; deletes it only if it is ours.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/**
 * XREADGROUP '>' on each partition whose lease (KEYS[i]) we hold, in one atomic step: a consumer that
 * lost a partition can never take new entries of it after the next holder claimed the old ones.
 * Per partition: {0} lease lost, {1, entries}, or {2, last id of the stream} when there is nothing new.
 */
const FENCED_READ = `
local n = #KEYS / 2
local out = {}
for i = 1, n do
  if redis.call('get', KEYS[i]) ~= ARGV[1] then
    out[i] = {0}
  else
    local r = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[1], 'COUNT', ARGV[3], 'STREAMS', KEYS[n + i], '>')
    if r then
      out[i] = {1, r[1][2]}
    else
      local last = redis.call('XREVRANGE', KEYS[n + i], '+', '-', 'COUNT', 1)
      out[i] = {2, last[1] and last[1][1] or '0-0'}
    end
  end
end
return out`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

type StreamEntry = [id: string, fields: string[] | null];
type ReadReply = [key: string, entries: StreamEntry[]][] | null;

/**
 * Redis Streams with consumer groups. Events go to one of `partitions` streams by key; in each
 * group one consumer at a time holds a partition (a lease renewed in Redis), so one key's events are
 * handled in order even with many pods. New entries are taken only together with a check of the
 * lease (one Lua script), and acknowledged (XACK) after the handler returned; a consumer that took
 * over a partition first claims (XAUTOCLAIM) and handles what its previous holder left unacknowledged,
 * then reads new entries. A holder that stalled past its lease may still finish the entry in hand:
 * the consumer's processed-events table makes that harmless.
 */
export class RedisEventBus implements EventBus {
  readonly kind = 'redis';
  readonly prefix: string;
  readonly partitions: number;
  readonly #redis: Redis;
  readonly #ownsRedis: boolean;
  readonly #maxLen: number;
  readonly #leaseMs: number;
  readonly #claimIdleMs: number;
  readonly #blockMs: number;
  readonly #batchSize: number;
  readonly #subscriptions = new Set<Subscription>();

  constructor(options: RedisEventBusOptions) {
    this.prefix = options.prefix ?? 'livehouse:events:';
    this.partitions = options.partitions ?? 8;
    this.#maxLen = options.maxLen ?? 100_000;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#claimIdleMs = options.claimIdleMs ?? this.#leaseMs * 2;
    this.#blockMs = options.blockMs ?? 1000;
    this.#batchSize = options.batchSize ?? 100;
    // Commands fail after 5 s rather than queueing forever: the relay then retries its batch.
    if (options.redis) {
      this.#redis = options.redis;
      this.#ownsRedis = false;
    } else {
      if (!options.url) throw new Error('RedisEventBus needs a url or a redis client');
      this.#redis = new Redis(options.url, { commandTimeout: 5000, maxRetriesPerRequest: 2 });
      this.#redis.on('error', () => {}); // reconnects by itself; failed commands surface where they are awaited
      this.#ownsRedis = true;
    }
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

    /** Moves entries of partition `p` idle at least `minIdleMs` to this consumer; they are read from its history next. */
    const claim = async (p: number, minIdleMs: number) => {
      let cursor = '0-0';
      let claimed = 0;
      do {
        const reply = (await redis.call(
          'XAUTOCLAIM',
          this.streamKey(p),
          group,
          me,
          String(minIdleMs),
          cursor,
          'COUNT',
          '1000',
          'JUSTID',
        )) as [string, string[]];
        cursor = reply[0];
        claimed += reply[1].length;
      } while (cursor !== '0-0');
      if (claimed > 0) {
        pending.add(p);
        log.info({ group, partition: p, claimed }, 'claimed unacknowledged events');
      }
    };

    const acquire = async (p: number) => {
      const ok = await redis.set(this.#leaseKey(group, p), me, 'PX', this.#leaseMs, 'NX');
      if (ok !== 'OK') return;
      // The lease is exclusive: whatever the previous holder left unacknowledged here is ours now,
      // and is handled before any new entry of the partition.
      await claim(p, 0);
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
            } else {
              // Entries a consumer read after losing this partition to us (it leaves them unhandled).
              await claim(p, this.#claimIdleMs);
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

    /** This consumer's own unacknowledged entries (history '0') of the given partitions. */
    const readHistory = async (parts: number[]) => {
      const reply = (await redis.call(
        'XREADGROUP',
        'GROUP',
        group,
        me,
        'COUNT',
        String(this.#batchSize),
        'STREAMS',
        ...parts.map((p) => this.streamKey(p)),
        ...parts.map(() => '0'),
      )) as ReadReply;
      const byKey = new Map((reply ?? []).map(([key, entries]) => [key, entries]));
      return parts.map((p) => byKey.get(this.streamKey(p)) ?? []);
    };

    /** New entries, each partition read only while its lease is still ours (checked atomically in Redis). */
    const readFenced = async (parts: number[]) => {
      const reply = (await redis.eval(
        FENCED_READ,
        parts.length * 2,
        ...parts.map((p) => this.#leaseKey(group, p)),
        ...parts.map((p) => this.streamKey(p)),
        me,
        group,
        String(this.#batchSize),
      )) as ([0] | [1, StreamEntry[]] | [2, string])[];
      return reply;
    };

    const loop = async () => {
      let failures = 0;
      while (!stopped) {
        const parts = [...held].sort((a, b) => a - b);
        if (parts.length === 0) {
          await wakeable.sleep(this.#leaseMs);
          continue;
        }
        const history = parts.filter((p) => pending.has(p));
        const fresh = parts.filter((p) => !pending.has(p));
        const batches: [number, StreamEntry[]][] = [];
        /** Per idle partition, the last id on its stream: XREAD waits for anything after it. */
        const idle: [number, string][] = [];
        try {
          if (history.length > 0) {
            const entries = await readHistory(history);
            for (const [i, p] of history.entries()) {
              const got = entries[i] ?? [];
              if (got.length === 0) pending.delete(p);
              else batches.push([p, got]);
            }
          }
          if (fresh.length > 0) {
            const reply = await readFenced(fresh);
            for (const [i, p] of fresh.entries()) {
              const r = reply[i];
              if (!r || r[0] === 0) {
                held.delete(p);
                log.warn({ group, partition: p }, 'lost the lease of a partition');
              } else if (r[0] === 1) batches.push([p, r[1]]);
              else idle.push([p, r[1]]);
            }
          }
        } catch (err) {
          if (stopped) break;
          log.warn({ err, group }, 'reading the streams failed');
          await wakeable.sleep(backoffMs(failures++));
          continue;
        }

        if (batches.length === 0) {
          if (idle.length === 0 || history.length > 0) continue;
          // Nothing to do: wait (without taking entries) until one of our partitions gets a new one.
          try {
            reading = true;
            await reader.call(
              'XREAD',
              'COUNT',
              '1',
              'BLOCK',
              String(this.#blockMs),
              'STREAMS',
              ...idle.map(([p]) => this.streamKey(p)),
              ...idle.map(([, last]) => last),
            );
          } catch (err) {
            if (stopped) break;
            log.warn({ err, group }, 'XREAD failed');
            await wakeable.sleep(backoffMs(failures++));
          } finally {
            reading = false;
          }
          continue;
        }

        let failed = false;
        for (const [p, entries] of batches) {
          try {
            if (await handleEntries(p, this.streamKey(p), entries)) failed = true;
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
    if (this.#ownsRedis) await this.#redis.quit().catch(() => this.#redis.disconnect());
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
