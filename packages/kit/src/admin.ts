import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import { sql } from 'kysely';
import type { Database } from './db/database.ts';
import { type Migrations, pendingMigrations } from './db/migrate.ts';
import type { Metrics } from './metrics.ts';

/**
 * The admin port: liveness, readiness (the database answers and every migration is applied)
 * and Prometheus metrics. Never exposed through an Ingress.
 */
export async function admin(options: {
  metrics: Metrics;
  database: Database<unknown> | undefined;
  migrations: Migrations | undefined;
  isClosing: () => boolean;
  logger: FastifyBaseLogger;
}) {
  const app = Fastify({
    loggerInstance: options.logger.child({ port: 'admin' }),
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (options.isClosing()) return reply.code(503).send({ status: 'closing' });
    const { database, migrations } = options;
    if (database) {
      try {
        await sql`select 1`.execute(database.db);
        const pending = migrations ? await pendingMigrations(database, migrations) : [];
        if (pending.length > 0) return reply.code(503).send({ status: 'migrations pending', pending });
      } catch (err) {
        return reply.code(503).send({ status: 'database unreachable', error: (err as Error).message });
      }
    }
    return { status: 'ready' };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
  await app.ready();
  return app;
}
