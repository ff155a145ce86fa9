import { explainedByKill } from './endpoints.ts';

function count(map: Map<string, Map<string, number>>, endpoint: string, key: string) {
  const byStatus = map.get(endpoint) ?? new Map<string, number>();
  map.set(endpoint, byStatus);
  byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
}

/** One second of the measured phase, counted exactly (latency percentiles come from artillery's sketches). */
export interface Second {
  requests: number;
  errors: number;
  /** Failures of endpoints that need a killed backend. */
  explained?: number;
  /** Responses whose `livehouse-degraded` header named at least one section. */
  degraded: number;
  activeUsers: number;
  byEndpoint: Record<string, number>;
}

/**
 * What every response of the mix was, counted as it arrives: drives the progress line and the
 * report's exact counts. A request is an error when it got a 5xx, a 4xx (the mix sends only valid
 * requests) or no answer at all; with a backend killed, errors of endpoints that need it are
 * counted apart as explained.
 */
export class Recorder {
  readonly startedAt = Date.now();
  readonly seconds: Second[] = [];
  /** endpoint → status (or error code, e.g. ETIMEDOUT) → count */
  readonly statuses = new Map<string, Map<string, number>>();
  /** The same, counted only after a backend was killed. */
  readonly statusesAfterKill = new Map<string, Map<string, number>>();
  /** "endpoint|status|code" → count and the first message, for error answers. */
  readonly errorCodes = new Map<string, { count: number; message: string }>();
  /** "view.section" → responses that listed it in `livehouse-degraded` */
  readonly degradedSections = new Map<string, number>();
  requests = 0;
  errors = 0;
  explainedErrors = 0;
  activeUsers = 0;
  usersStarted = 0;
  usersFinished = 0;
  usersFailed = 0;
  killed: { service: string; at: number } | undefined;

  #second(at = Date.now()) {
    const i = Math.max(0, Math.floor((at - this.startedAt) / 1000));
    for (let k = this.seconds.length; k <= i; k++) {
      this.seconds.push({ requests: 0, errors: 0, degraded: 0, activeUsers: this.activeUsers, byEndpoint: {} });
    }
    const s = this.seconds[i]!;
    s.activeUsers = this.activeUsers;
    return s;
  }

  static isError(status: number) {
    return status === 0 || status >= 400;
  }

  /** `status` 0 with `code`: no HTTP answer (refused, reset, timed out). */
  record(
    endpoint: string,
    status: number,
    options: { code?: string; message?: string; degraded?: string; view?: string } = {},
  ) {
    const s = this.#second();
    this.requests++;
    s.requests++;
    s.byEndpoint[endpoint] = (s.byEndpoint[endpoint] ?? 0) + 1;
    const key = status === 0 ? (options.code ?? 'no answer') : String(status);
    count(this.statuses, endpoint, key);
    if (this.killed) count(this.statusesAfterKill, endpoint, key);
    if (Recorder.isError(status)) {
      const k = `${endpoint}|${key}|${options.code ?? ''}`;
      const e = this.errorCodes.get(k) ?? { count: 0, message: options.message ?? '' };
      e.count++;
      this.errorCodes.set(k, e);
      if (this.killed && explainedByKill(endpoint, this.killed.service)) {
        this.explainedErrors++;
        s.explained = (s.explained ?? 0) + 1;
      } else {
        this.errors++;
        s.errors++;
      }
    }
    if (options.degraded) {
      s.degraded++;
      for (const section of options.degraded.split(',')) {
        const k = `${options.view ?? '?'}.${section.trim()}`;
        this.degradedSections.set(k, (this.degradedSections.get(k) ?? 0) + 1);
      }
    }
  }

  userStarted() {
    this.activeUsers++;
    this.usersStarted++;
    this.#second();
  }

  userFinished(failed: boolean) {
    this.activeUsers--;
    if (failed) this.usersFailed++;
    else this.usersFinished++;
    this.#second();
  }

  /** Requests per second over the last `window` whole seconds. */
  currentRate(window = 5) {
    this.#second();
    const whole = this.seconds.slice(0, Math.max(0, Math.floor((Date.now() - this.startedAt) / 1000)));
    const last = whole.slice(-window);
    return last.length === 0 ? 0 : last.reduce((n, s) => n + s.requests, 0) / last.length;
  }
}
