import { ConfigError, defineService } from '@livehouse/kit';
import { createObjectStorage } from '@livehouse/kit/storage';
import { ingestConfig } from './config.ts';
import type { IngestDatabase } from './db.ts';
import { Ingest } from './ingest.service.ts';
import * as lives from './migrations/0001_lives.ts';
import { originRoutes } from './origin.routes.ts';

export { Ingest } from './ingest.service.ts';
export { keys } from './live.ts';

/**
 * RTMP publishes with stream keys → one supervised ffmpeg per live → HLS segments in storage, our
 * own playlists (live window, master, archive), and the origin the edge pulls them from.
 */
export const ingestService = defineService<typeof ingestConfig, IngestDatabase, { ingest: Ingest }>({
  name: 'ingest',
  config: ingestConfig,
  migrations: { '0001_lives': lives },
  dependsOn: ['contents', 'thumbnail'],
  // Routes (the origin) and background work (RTMP) of one running instance share one Ingest (tests: depsOf).
  setup: (ctx) => {
    const config = ctx.config.ingest;
    const copies = config.ladder.filter((r) => r.copy);
    const names = new Set(config.ladder.map((r) => r.name));
    const problems = [
      ...(copies.length !== 1 ? ['ingest.ladder needs exactly one rendition with copy: true (the source)'] : []),
      ...(names.size !== config.ladder.length ? ['ingest.ladder names must be unique'] : []),
      ...config.ladder
        .filter((r) => !r.copy && (r.height === undefined || r.videoKbps === undefined))
        .map((r) => `ingest.ladder ${r.name} needs height and videoKbps (or copy: true)`),
    ];
    if (problems.length > 0) throw new ConfigError('ingest', problems);
    const ingest = new Ingest({
      config,
      db: ctx.db,
      storage: createObjectStorage(config.storage, ctx.config.secrets),
      log: ctx.log,
      contents: ctx.clients.contents,
      thumbnailUrl: ctx.config.services.thumbnail,
      internalAuth: ctx.internalAuth,
      registry: ctx.metrics.registry,
    });
    return { ingest };
  },
  routes: async (app, ctx) => {
    const { ingest } = ctx.deps;
    await originRoutes(app, { storage: ingest.storage, ingest, config: ctx.config.ingest });
  },
  background: async (ctx) => {
    const ingest = await ctx.deps.ingest.start();
    ctx.log.info({ port: ingest.port, app: ctx.config.ingest.rtmp.app }, 'RTMP listening');
    return { stop: () => ingest.stop() };
  },
});
