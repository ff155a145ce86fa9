import { defineService } from '@livehouse/kit';
import { createObjectStorage } from '@livehouse/kit/storage';
import { thumbnailConfig } from './config.ts';
import type { ThumbnailDatabase } from './db.ts';
import * as jobs from './jobs.repository.ts';
import { JobWorker } from './jobs.worker.ts';
import { PendingWork, Semaphore } from './limit.ts';
import * as init from './migrations/0001_thumbnails.ts';
import * as streamStartedJobs from './migrations/0002_stream_started_jobs.ts';
import * as liveFrames from './migrations/0003_live_frames.ts';
import { RemoteImageFetcher } from './remote-image.ts';
import { thumbnailRoutes } from './thumbnail.routes.ts';
import type { ThumbnailDeps } from './thumbnail.service.ts';

export { generate, onStreamStarted, type StreamFacts, type ThumbnailDeps } from './thumbnail.service.ts';

/** Stream thumbnails in standard sizes, WebP and JPEG, from the channel's image or a generated card. */
export const thumbnailService = defineService<
  typeof thumbnailConfig,
  ThumbnailDatabase,
  { thumbnails: ThumbnailDeps; worker: JobWorker }
>({
  name: 'thumbnail',
  config: thumbnailConfig,
  migrations: {
    '0001_thumbnails': init,
    '0002_stream_started_jobs': streamStartedJobs,
    '0003_live_frames': liveFrames,
  },
  dependsOn: ['contents'],
  // Routes, the worker and the event handler of one running instance share its storage and limits.
  setup: (ctx) => {
    const config = ctx.config.thumbnail;
    const thumbnails: ThumbnailDeps = {
      db: ctx.db,
      storage: createObjectStorage(config.storage, ctx.config.secrets),
      config,
      contents: ctx.clients.contents,
      remote: config.remoteImages.enabled ? new RemoteImageFetcher(config.remoteImages) : undefined,
      log: ctx.log,
      renders: new Semaphore(config.maxConcurrent),
      pending: new PendingWork(),
    };
    ctx.onClose(async () => {
      await thumbnails.pending.drain();
      await thumbnails.remote?.close();
    });
    return { thumbnails, worker: new JobWorker(thumbnails, config.jobs, ctx.metrics) };
  },
  routes: (app, ctx) => thumbnailRoutes(app, ctx.deps.thumbnails),
  // The handler only queues (it runs in the transaction that marks the event processed); the worker renders.
  consumes: {
    'stream.started': async (trx, event, ctx) => {
      const { streamId, channelId, title } = event.data;
      await jobs.enqueue(trx, { streamId, channelId, title, eventId: event.id });
      ctx.deps.worker.nudge();
    },
  },
  background: async (ctx) => {
    const worker = ctx.deps.worker.start();
    return { stop: () => worker.stop() };
  },
});
