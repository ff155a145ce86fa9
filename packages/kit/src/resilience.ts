import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from 'cockatiel';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { AppError } from './errors.ts';
import type { CallOptions, ServiceClient } from './http-client.ts';

export interface ResilienceOptions {
  /** Per-call timeout; the call is aborted down to the socket when it passes. */
  timeoutMs: number;
  /** Consecutive failures (5xx, timeouts, unreachable) that open the breaker. */
  breakerFailures: number;
  /** How long the breaker stays open before letting one probe through. */
  halfOpenAfterMs: number;
  /** Concurrent calls to this backend; more wait in a short queue, then are rejected. */
  maxConcurrent: number;
  maxQueued: number;
  /** Retries may be at most this share of recent calls, so an outage cannot become a retry storm. */
  retryRatio: number;
}

export const defaultResilience: ResilienceOptions = {
  timeoutMs: 1000,
  breakerFailures: 5,
  halfOpenAfterMs: 2000,
  maxConcurrent: 256,
  maxQueued: 512,
  retryRatio: 0.2,
};

/** `deadline`: the caller's deadline passed first (not counted against the breaker). */
export type Outcome = 'ok' | 'timeout' | 'deadline' | 'error' | 'short_circuited' | 'rejected';

export interface BackendMetrics {
  calls: Counter<'backend' | 'outcome'>;
  duration: Histogram<'backend'>;
  breaker: Gauge<'backend'>;
  retries: Counter<'backend'>;
}

export function createBackendMetrics(registry: Registry): BackendMetrics {
  return {
    calls: new Counter({
      name: 'backend_calls_total',
      help: "Calls to backends by outcome: ok, timeout, deadline (the caller's passed first), error, short_circuited (breaker open), rejected (bulkhead full)",
      labelNames: ['backend', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'backend_call_duration_seconds',
      help: 'Backend call latency',
      labelNames: ['backend'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    breaker: new Gauge({
      name: 'backend_breaker_state',
      help: 'Circuit breaker per backend: 0 closed, 1 half-open, 2 open',
      labelNames: ['backend'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'backend_retries_total',
      help: 'Retried backend GETs',
      labelNames: ['backend'],
      registers: [registry],
    }),
  };
}

/**
 * What counts against the breaker: what says the backend is unhealthy (its 5xx, its timeouts, no answer).
 * A 4xx is an answer to the caller's input; a passed deadline is the caller's choice.
 */
export const isFailure = (err: unknown) =>
  !(err instanceof AppError) || (err.status >= 500 && err.code !== 'deadline_exceeded');

/** Calls and retries over the last ten one-second buckets. */
class RetryBudget {
  readonly #calls = new Array<number>(10).fill(0);
  readonly #retries = new Array<number>(10).fill(0);
  #bucket = 0;
  #bucketStart = Date.now();

  #roll() {
    const now = Date.now();
    while (now - this.#bucketStart >= 1000) {
      this.#bucket = (this.#bucket + 1) % 10;
      this.#calls[this.#bucket] = 0;
      this.#retries[this.#bucket] = 0;
      this.#bucketStart += 1000;
      if (now - this.#bucketStart > 10_000) this.#bucketStart = now;
    }
  }

  call() {
    this.#roll();
    this.#calls[this.#bucket]!++;
  }

  /** Takes a retry from the budget if there is one; a floor of 3 lets quiet backends retry too. */
  tryRetry(ratio: number) {
    this.#roll();
    const calls = this.#calls.reduce((a, b) => a + b, 0);
    const retries = this.#retries.reduce((a, b) => a + b, 0);
    if (retries + 1 > Math.max(3, calls * ratio)) return false;
    this.#retries[this.#bucket]!++;
    return true;
  }
}

export interface ResilientCallOptions extends CallOptions {
  /** Absolute time (epoch ms) by which the whole request must be answered. */
  deadline?: number;
}

/**
 * One backend as the BFF sees it: a timeout that aborts the socket, a circuit breaker, a bulkhead,
 * at most one retry for GETs within the deadline and the retry budget, and identical concurrent
 * GETs coalesced into one call.
 */
export class ResilientBackend {
  readonly name: string;
  readonly #client: ServiceClient;
  readonly #options: ResilienceOptions;
  readonly #metrics: BackendMetrics | undefined;
  readonly #breaker;
  readonly #bulkhead;
  readonly #budget = new RetryBudget();
  readonly #inflight = new Map<string, Promise<unknown>>();

  constructor(client: ServiceClient, options: Partial<ResilienceOptions> = {}, metrics?: BackendMetrics) {
    this.name = client.target;
    this.#client = client;
    this.#options = { ...defaultResilience, ...options };
    this.#metrics = metrics;
    this.#breaker = circuitBreaker(handleWhen(isFailure), {
      halfOpenAfter: this.#options.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(this.#options.breakerFailures),
    });
    this.#bulkhead = bulkhead(this.#options.maxConcurrent, this.#options.maxQueued);
    metrics?.breaker.set({ backend: this.name }, 0);
    this.#breaker.onStateChange((state) => {
      const value = state === CircuitState.Closed ? 0 : state === CircuitState.HalfOpen ? 1 : 2;
      metrics?.breaker.set({ backend: this.name }, value);
    });
  }

  get breakerState(): 'closed' | 'half-open' | 'open' {
    const s = this.#breaker.state;
    return s === CircuitState.Closed ? 'closed' : s === CircuitState.HalfOpen ? 'half-open' : 'open';
  }

  /** A GET: coalesced with identical in-flight GETs (same path, query and user), retried once when allowed. */
  get<T>(path: string, options: ResilientCallOptions = {}): Promise<T> {
    const key = `${path}?${JSON.stringify(options.query ?? {})}#${options.user?.id ?? ''}`;
    const existing = this.#inflight.get(key);
    if (existing) return existing as Promise<T>;
    const promise = this.#getWithRetry<T>(path, options).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, promise);
    return promise;
  }

  async #getWithRetry<T>(path: string, options: ResilientCallOptions): Promise<T> {
    try {
      return (await this.#execute<T>('GET', path, options)).body;
    } catch (err) {
      const retryable =
        isFailure(err) &&
        !(err instanceof AppError && err.code === 'service_unavailable' && this.breakerState === 'open');
      const timeLeft = options.deadline === undefined || options.deadline - Date.now() > 20;
      if (!retryable || !timeLeft || !this.#budget.tryRetry(this.#options.retryRatio)) throw err;
      this.#metrics?.retries.inc({ backend: this.name });
      return (await this.#execute<T>('GET', path, options)).body;
    }
  }

  /** Any call; writes are never retried or coalesced. */
  call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, options: ResilientCallOptions = {}) {
    return this.#execute<T>(method, path, options);
  }

  async #execute<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, options: ResilientCallOptions) {
    this.#budget.call();
    const started = performance.now();
    // The client caps this at the deadline it is given in the header.
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs;
    let outcome: Outcome = 'ok';
    try {
      return await this.#bulkhead.execute(() =>
        this.#breaker.execute(() =>
          this.#client.call<T>(method, path, {
            ...options,
            timeoutMs,
            headers: {
              ...options.headers,
              ...(options.deadline !== undefined && { 'livehouse-deadline': String(options.deadline) }),
            },
          }),
        ),
      );
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        outcome = 'short_circuited';
        throw new AppError('service_unavailable', `${this.name} is failing: its circuit breaker is open`, {
          cause: err,
        });
      }
      if (err instanceof BulkheadRejectedError) {
        outcome = 'rejected';
        throw new AppError('service_unavailable', `${this.name} has too many calls in flight`, { cause: err });
      }
      const code = err instanceof AppError ? err.code : undefined;
      outcome =
        code === 'upstream_timeout'
          ? 'timeout'
          : code === 'deadline_exceeded'
            ? 'deadline'
            : isFailure(err)
              ? 'error'
              : 'ok';
      throw err;
    } finally {
      this.#metrics?.calls.inc({ backend: this.name, outcome });
      this.#metrics?.duration.observe({ backend: this.name }, (performance.now() - started) / 1000);
    }
  }

  close() {
    return this.#client.close();
  }
}
