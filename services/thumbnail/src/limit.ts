/** At most `max` tasks at once; the rest wait in order. Bounds the decoded images held in memory. */
export class Semaphore {
  readonly #max: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(max: number) {
    this.#max = max;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running < this.#max) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // the slot is handed over
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

/** Work started by a request that outlives it; waited for on close. */
export class PendingWork {
  readonly #pending = new Set<Promise<unknown>>();

  track(promise: Promise<unknown>) {
    const settled = promise.catch(() => {}).finally(() => this.#pending.delete(settled));
    this.#pending.add(settled);
  }

  async drain() {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}
