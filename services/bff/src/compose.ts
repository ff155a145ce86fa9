import { AppError } from '@livehouse/kit';
import type { Counter } from 'prom-client';
import type { EndUser } from './access-token.ts';
import type { Backends } from './backends.ts';

/** What a section's fetch sees: the request and the results of the sections it depends on. */
export interface SectionContext {
  user: EndUser | undefined;
  params: Record<string, string>;
  /** Results of the sections named in `dependsOn` (their default when they failed). */
  results: Record<string, unknown>;
  backends: Backends;
  deadline: number;
  /** Multiplies every section timeout (config `bff.timeoutScale`): slow test machines, not production. */
  timeoutScale: number;
  /** This section's call timeout: its declared `timeoutMs` × `timeoutScale`. */
  timeoutMs: number;
}

/**
 * One part of a view, declared as data: which backend it calls, how long it may take, what it
 * answers when that backend fails, and whether the view can be answered without it.
 */
export interface Section<T = unknown> {
  backend: string;
  timeoutMs: number;
  /** A required section that fails fails the view: 503 (or its own 4xx, e.g. 404 for an unknown id). */
  required?: boolean;
  /** Answer when the section is optional and its backend fails, or when `when` says it does not apply. */
  fallback: T;
  dependsOn?: string[];
  /** Skip the call (answer the fallback, not degraded) when false, e.g. a wallet without a logged-in user. */
  when?: (ctx: SectionContext) => boolean;
  /** Public data: cache it this long, and serve the last good value while the backend fails. */
  cache?: { key: (ctx: SectionContext) => string; ttlMs: number };
  fetch(ctx: SectionContext): Promise<T>;
}

export type Sections = Record<string, Section>;

export interface Composed {
  data: Record<string, unknown>;
  degraded: string[];
}

const STALE_LIMIT_MS = 10 * 60_000;

interface CacheEntry {
  value: unknown;
  at: number;
}

/** Public sections' last good values, per section and key. */
export class SectionCache {
  readonly #entries = new Map<string, CacheEntry>();
  get(key: string) {
    return this.#entries.get(key);
  }
  set(key: string, value: unknown) {
    if (this.#entries.size > 10_000) this.#entries.clear();
    this.#entries.set(key, { value, at: Date.now() });
  }
  /** Forgets every value: the next view calls every section's backend (tests, instead of waiting out TTLs). */
  clear() {
    this.#entries.clear();
  }
}

/**
 * Runs a view's sections: independent ones in parallel, dependent ones as soon as their inputs
 * are there. Optional sections that fail answer their last good value or fallback and are listed
 * in `degraded`; a failing required section fails the whole view.
 */
export async function compose(
  view: string,
  sections: Sections,
  base: Omit<SectionContext, 'results' | 'timeoutMs'>,
  options: { cache: SectionCache; degradedCounter?: Counter<'view' | 'section'> },
): Promise<Composed> {
  const degraded: string[] = [];
  const running = new Map<string, Promise<unknown>>();

  const run = (name: string): Promise<unknown> => {
    const existing = running.get(name);
    if (existing) return existing;
    const section = sections[name];
    if (!section) throw new Error(`view ${view} has no section ${name}`);
    const promise = (async () => {
      const results: Record<string, unknown> = {};
      for (const dep of section.dependsOn ?? []) results[dep] = await run(dep);
      const ctx: SectionContext = { ...base, results, timeoutMs: section.timeoutMs * base.timeoutScale };
      if (section.when && !section.when(ctx)) return section.fallback;
      const cacheKey = section.cache && `${view}.${name}:${section.cache.key(ctx)}`;
      const cached = cacheKey ? options.cache.get(cacheKey) : undefined;
      if (cached && section.cache && Date.now() - cached.at < section.cache.ttlMs) return cached.value;
      try {
        const value = await section.fetch(ctx);
        if (cacheKey) options.cache.set(cacheKey, value);
        return value;
      } catch (err) {
        if (section.required) throw err;
        // A 4xx is the backend's answer (e.g. nothing there): the fallback, but not a degradation.
        if (err instanceof AppError && err.status < 500) return section.fallback;
        degraded.push(name);
        options.degradedCounter?.inc({ view, section: name });
        if (cached && Date.now() - cached.at < STALE_LIMIT_MS) return cached.value;
        return section.fallback;
      }
    })();
    running.set(name, promise);
    return promise;
  };

  const names = Object.keys(sections);
  const settled = await Promise.allSettled(names.map(run));
  const data: Record<string, unknown> = {};
  for (const [i, result] of settled.entries()) {
    const name = names[i]!;
    if (result.status === 'rejected') {
      const err = result.reason;
      if (err instanceof AppError && err.status < 500) throw err;
      throw new AppError(
        'service_unavailable',
        `cannot answer ${view} without ${name}: ${sections[name]?.backend} is failing`,
        {
          cause: err,
        },
      );
    }
    data[name] = result.value;
  }
  return { data, degraded: degraded.sort() };
}
