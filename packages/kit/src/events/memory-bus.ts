import type { EventEnvelope } from '@livehouse/contracts';
import {
  BusClosedError,
  backoffMs,
  type EventBus,
  type SubscribeOptions,
  type Subscription,
  silentLog,
  Wakeable,
} from './bus.ts';

interface Group {
  /** Absolute position of the next event to handle. */
  offset: number;
  active: boolean;
  wakeable: Wakeable;
}

/**
 * The bus of `livehouse up`: one instance shared by every service of the process. It keeps a bounded
 * log, and each group reads it in order from where it stopped (a new group starts at the oldest kept
 * event, as a new Redis group does), so a consumer that starts after a producer misses nothing.
 */
export class InProcessEventBus implements EventBus {
  readonly kind = 'in-process';
  readonly #retain: number;
  #log: EventEnvelope[] = [];
  /** Absolute position of #log[0]. */
  #base = 0;
  #closed = false;
  readonly #groups = new Map<string, Group>();

  constructor(options: { retain?: number } = {}) {
    this.#retain = options.retain ?? 100_000;
  }

  get #end() {
    return this.#base + this.#log.length;
  }

  async publish(events: readonly EventEnvelope[]) {
    if (this.#closed) throw new BusClosedError();
    this.#log.push(...events);
    const excess = this.#log.length - this.#retain;
    if (excess > 0) {
      this.#log = this.#log.slice(excess);
      this.#base += excess;
    }
    for (const group of this.#groups.values()) group.wakeable.wake();
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const log = options.log ?? silentLog;
    let group = this.#groups.get(options.group);
    if (!group) {
      group = { offset: this.#base, active: false, wakeable: new Wakeable() };
      this.#groups.set(options.group, group);
    }
    if (group.active) throw new Error(`group ${options.group} already has a consumer in this process`);
    group.active = true;
    const g = group;
    let stopped = false;

    const loop = async () => {
      let attempt = 0;
      while (!stopped) {
        // A group that fell behind the kept log skips what was dropped (and says so).
        if (g.offset < this.#base) {
          log.error(
            { group: options.group, lost: this.#base - g.offset },
            'events dropped before this group read them',
          );
          g.offset = this.#base;
        }
        const event = this.#log[g.offset - this.#base];
        if (!event) {
          await g.wakeable.sleep(1000);
          continue;
        }
        try {
          await options.handle(event);
          g.offset++;
          attempt = 0;
        } catch (err) {
          log.warn({ err, eventId: event.id, type: event.type, attempt }, 'event handler failed: retrying');
          await g.wakeable.sleep(backoffMs(attempt++));
        }
      }
    };
    const running = loop();
    return {
      async stop() {
        stopped = true;
        g.wakeable.wake();
        await running;
        g.active = false;
      },
    };
  }

  async drain(timeoutMs = 5000) {
    this.#closed = true;
    const deadline = Date.now() + timeoutMs;
    const behind = () => [...this.#groups.values()].some((g) => g.active && g.offset < this.#end);
    while (behind() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  async close() {
    this.#closed = true;
    for (const group of this.#groups.values()) group.wakeable.wake();
  }
}
