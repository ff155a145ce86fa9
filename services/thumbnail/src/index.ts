import { defineService } from '@livehouse/kit';
import { thumbnailConfig } from './config.ts';
import type { ThumbnailDatabase } from './db.ts';
import { PendingWork, Semaphore } from './limit.ts';
import * as init from './migrations/0001_thumbnails.ts';
import { RemoteImageFetcher } from './remote-image.ts';
import { createStorage } from './storage/storage.ts';
import { thumbnailRoutes } from './thumbnail.routes.ts';
import type { ThumbnailDeps } from './thumbnail.service.ts';

export { generate, onStreamStarted, type StreamFacts, type ThumbnailDeps } from './thumbnail.service.ts';

/** Stream thumbnails in standard sizes, WebP and JPEG, from the channel's image or a generated card. */
export const thumbnailService = defineService<typeof thumbnailConfig, ThumbnailDatabase>({
  name: 'thumbnail',
  config: thumbnailConfig,
  migrations: { '0001_thumbnails': init },
  dependsOn: ['contents'],
  routes: async (app, ctx) => {
    const config = ctx.config.thumbnail;
    const remote = config.remoteImages.enabled ? new RemoteImageFetcher(config.remoteImages) : undefined;
    const deps: ThumbnailDeps = {
      db: ctx.db,
      storage: createStorage(config.storage, ctx.config.secrets),
      config,
      contents: ctx.clients.contents as ThumbnailDeps['contents'],
      remote,
      log: ctx.log,
      renders: new Semaphore(config.maxConcurrent),
      pending: new PendingWork(),
    };
    app.addHook('onClose', async () => {
      await deps.pending.drain();
      await remote?.close();
    });
    await thumbnailRoutes(app, deps);
  },
});
