import { defineService } from '@livehouse/kit';
import { Type } from 'typebox';
import { Catalog } from './catalog.service.ts';
import type { StampDatabase } from './db.ts';
import * as init from './migrations/0001_catalog_and_sends.ts';
import { stampRoutes } from './stamp.routes.ts';

const config = {
  stamp: Type.Object(
    {
      /** Free stamps per user and window (paid ones are limited by the wallet). */
      freeStampLimit: Type.Object(
        {
          max: Type.Integer({ minimum: 1, default: 10 }),
          windowMs: Type.Integer({ minimum: 100, default: 10_000 }),
        },
        { default: {}, additionalProperties: false },
      ),
      /** Catalog image paths are resolved against this (a CDN in production). */
      imageBaseUrl: Type.String({ pattern: '^https?://.+/$', default: 'https://static.livehouse.example/' }),
    },
    { default: {}, additionalProperties: false },
  ),
};

/** The stamp catalog, sending stamps to live streams (paid ones through point), top supporters. */
export const stampService = defineService<typeof config, StampDatabase>({
  name: 'stamp',
  config,
  migrations: { '0001_catalog_and_sends': init },
  dependsOn: ['point', 'contents'],
  produces: ['stamp.sent'],
  routes: async (app, ctx) => {
    const { freeStampLimit, imageBaseUrl } = ctx.config.stamp;
    await stampRoutes(app, {
      db: ctx.db,
      catalog: new Catalog(ctx.db, imageBaseUrl),
      contents: ctx.clients.contents,
      point: ctx.clients.point,
      // Shared across pods when Redis is configured; per process otherwise (embedded mode).
      limiter: ctx.limiter('livehouse:stamp:'),
      freeLimit: freeStampLimit,
    });
  },
});
