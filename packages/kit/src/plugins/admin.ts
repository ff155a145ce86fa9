import fp from 'fastify-plugin';
import { admin } from '../admin.ts';
import type { Migrations } from '../db/migrate.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The admin port's own server (`/healthz`, `/readyz`, `/metrics`), listened on beside the API. */
    adminServer: FastifyInstance;
  }
}

/** The admin server: readiness follows the database, pending migrations and `isClosing`. */
export const adminPlugin = fp<{ migrations: Migrations | undefined }>(
  async (app, options) => {
    const server = await admin({
      metrics: app.metrics,
      database: app.database,
      migrations: options.migrations,
      isClosing: () => app.isClosing(),
      logger: app.log,
    });
    app.decorate('adminServer', server);
    app.addHook('onClose', async () => server.close());
  },
  {
    name: 'livehouse-admin',
    fastify: '5.x',
    dependencies: ['livehouse-metrics', 'livehouse-database', 'livehouse-request-context'],
  },
);
