import { defineService } from '@livehouse/kit';
import { edgeConfig } from './config.ts';
import { edgeRoutes } from './edge.routes.ts';
import { EdgeCache } from './edge.service.ts';

export { EdgeCache } from './edge.service.ts';

/**
 * The low-latency HLS proxy viewers hit: caches segments and playlists, coalesces identical origin
 * fetches, holds blocking playlist reloads. Stateless: any edge serves any stream from any ingest.
 */
export const edgeService = defineService<typeof edgeConfig, unknown>({
  name: 'edge',
  config: edgeConfig,
  dependsOn: ['ingest'],
  // Players fetch without a token (media URLs are public, like a CDN's); only the origin needs one.
  public: true,
  routes: async (app, ctx) => {
    const origin = ctx.config.services.ingest;
    if (!origin) throw new Error('edge needs services.ingest (the origin) in its config');
    const cache = new EdgeCache(ctx.config.edge, origin, ctx.internalAuth, ctx.metrics.registry);
    app.addHook('onClose', () => cache.close());
    await edgeRoutes(app, cache, ctx.config.edge);
  },
});
