import type { EventEnvelope } from '@livehouse/contracts';

/** What the event machinery logs through: a pino/Fastify logger fits. */
export interface EventLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Resolving means "handled": the bus acknowledges. Throwing means "retry": the event is delivered again, before any later one of its key. */
export type EventHandler = (event: EventEnvelope) => Promise<void>;

export interface SubscribeOptions {
  /** Every instance of one service joins the same group: each event is handled by one of them. */
  group: string;
  /** This instance's name within the group; unique per process (a default is made up). */
  consumer?: string;
  handle: EventHandler;
  log?: EventLog;
}

export interface Subscription {
  /** Lets the event in hand finish, then stops; unhandled events go to another instance or the next start. */
  stop(): Promise<void>;
}

/**
 * Carries events from outbox relays to consumers: at least once, in publication order per key.
 * Two implementations: Redis Streams (production, across pods) and in-process (`livehouse up`).
 */
export interface EventBus {
  readonly kind: 'redis' | 'in-process';
  /** Appends the events in this order; resolves once the bus holds them. */
  publish(events: readonly EventEnvelope[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /**
   * Before a shutdown: stops accepting events, then waits (at most `timeoutMs`) until subscribers have handled
   * what they hold. A no-op where the bus outlives the process (Redis).
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Releases connections; call after the subscriptions are stopped. */
  close(): Promise<void>;
}

/** Thrown by `publish` on a drained bus: the relay leaves the rows in the outbox for the next start. */
export class BusClosedError extends Error {
  constructor() {
    super('the event bus is shutting down');
    this.name = 'BusClosedError';
  }
}

/** Same key, same partition: that is what keeps one key's events in order across consumers. FNV-1a. */
export function partitionOf(key: string, partitions: number) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/** Retry delay after `attempt` consecutive failures: 50 ms doubling, at most 5 s. */
export function backoffMs(attempt: number) {
  return Math.min(5000, 50 * 2 ** Math.min(attempt, 10));
}

/** A sleep that `wake()` cuts short: loops wait on it for new work or a stop. */
export class Wakeable {
  #wake: (() => void) | undefined;
  /** A wake that came while awake: the next sleep returns at once, so the signal is not lost. */
  #pending = false;

  sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  wake() {
    if (this.#wake) this.#wake();
    else this.#pending = true;
  }
}

export const silentLog: EventLog = { debug() {}, info() {}, warn() {}, error() {} };
