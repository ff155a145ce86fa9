import type { Metrics } from '@livehouse/kit';
import { Counter } from 'prom-client';
import * as jobs from './jobs.repository.ts';
import { onStreamStarted, type ThumbnailDeps } from './thumbnail.service.ts';

export interface WorkerOptions {
  pollMs: number;
  leaseMs: number;
  maxAttempts: number;
  retryBaseMs: number;
}

/**
 * Runs the queued `stream.started` jobs one at a time, outside any transaction (generation calls
 * contents and writes files). A failure is retried with exponential backoff; after `maxAttempts`
 * the job is dropped with an error log (on-demand generation still works for that stream).
 */
export class JobWorker {
  readonly #deps: ThumbnailDeps;
  readonly #options: WorkerOptions;
  readonly #outcomes: Counter<'outcome'>;
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(deps: ThumbnailDeps, options: WorkerOptions, metrics: Metrics) {
    this.#deps = deps;
    this.#options = options;
    this.#outcomes = new Counter({
      name: 'thumbnail_jobs_total',
      help: 'stream.started jobs by outcome (done, retry, dropped)',
      labelNames: ['outcome'],
      registers: [metrics.registry],
    });
  }

  start() {
    this.#loop = this.#run();
    return this;
  }

  /** A job was just queued (its transaction commits in a moment): look again shortly instead of at the next poll. */
  nudge() {
    setTimeout(() => this.#wake?.(), 20).unref();
  }

  async stop() {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  async #run() {
    while (!this.#stopped) {
      let job: Awaited<ReturnType<typeof jobs.claim>>;
      try {
        job = await jobs.claim(this.#deps.db, this.#options.leaseMs);
      } catch (err) {
        if (this.#stopped) return;
        this.#deps.log.warn({ err }, 'thumbnail jobs could not be read');
        job = undefined;
      }
      if (job) {
        await this.#process(job);
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.pollMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async #process(job: NonNullable<Awaited<ReturnType<typeof jobs.claim>>>) {
    const { log } = this.#deps;
    try {
      await onStreamStarted(this.#deps, { streamId: job.stream_id, channelId: job.channel_id, title: job.title });
      await jobs.finish(this.#deps.db, job);
      this.#outcomes.inc({ outcome: 'done' });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      try {
        if (job.attempts >= this.#options.maxAttempts) {
          log.error({ err, streamId: job.stream_id, attempts: job.attempts }, 'thumbnail job dropped');
          await jobs.finish(this.#deps.db, job);
          this.#outcomes.inc({ outcome: 'dropped' });
        } else {
          const delay = this.#options.retryBaseMs * 2 ** (job.attempts - 1);
          log.warn({ err, streamId: job.stream_id, attempts: job.attempts, delay }, 'thumbnail job failed: retrying');
          await jobs.retryLater(this.#deps.db, job, delay, message);
          this.#outcomes.inc({ outcome: 'retry' });
        }
      } catch (dbErr) {
        // The lease runs out and the job is taken again.
        log.warn({ err: dbErr, streamId: job.stream_id }, 'thumbnail job state not saved');
      }
    }
  }
}
