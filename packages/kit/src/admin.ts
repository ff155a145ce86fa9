import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import { sql } from 'kysely';
import { Gauge } from 'prom-client';
import type { Database } from './db/database.ts';
import { type Migrations, pendingMigrations } from './db/migrate.ts';
import type { Metrics } from './metrics.ts';

/** A database check must answer a probe or a scrape even when the network swallows packets. */
const DATABASE_CHECK_TIMEOUT_MS = 3000;

type DatabaseHealth =
  | { status: 'ok' }
  | { status: 'migrations pending'; pending: string[] }
  | { status: 'unreachable' };

async function checkDatabase(database: Database<unknown>, migrations: Migrations | undefined): Promise<DatabaseHealth> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error('database check timed out')), DATABASE_CHECK_TIMEOUT_MS);
  });
  const check = (async (): Promise<DatabaseHealth> => {
    await sql`select 1`.execute(database.db);
    const pending = migrations ? await pendingMigrations(database, migrations) : [];
    return pending.length > 0 ? { status: 'migrations pending', pending } : { status: 'ok' };
  })();
  try {
    return await Promise.race([check, timeout]);
  } catch {
    // The error's text may hold the server's address; the logs of the failing queries say why.
    check.catch(() => {});
    return { status: 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The admin port: liveness, readiness, the database's health and Prometheus metrics. Never exposed through an
 * Ingress.
 *
 * Readiness says "this pod can serve": not closing, and its schema was seen migrated once. It does not follow
 * the database afterwards: every pod shares it, so a failover would turn them all unready at once and empty
 * the Services, and callers would get connection errors instead of the services' own answers (docs/deploy.md).
 * The database is a signal of its own: `/healthz/database` and the `livehouse_database_up` gauge (alerted on).
 */
export async function admin(options: {
  metrics: Metrics;
  database: Database<unknown> | undefined;
  migrations: Migrations | undefined;
  isClosing: () => boolean;
  logger: FastifyBaseLogger;
}) {
  const { database, migrations } = options;
  const app = Fastify({
    loggerInstance: options.logger.child({ port: 'admin' }),
    logController: new LogController({ disableRequestLogging: true }),
  });
  let migrated = !database;
  const health = async () => {
    const h = database ? await checkDatabase(database, migrations) : ({ status: 'ok' } as const);
    if (h.status === 'ok') migrated = true;
    return h;
  };
  if (database) {
    new Gauge({
      name: 'livehouse_database_up',
      help: '1 when the service’s database answers and every migration is applied, else 0',
      registers: [options.metrics.registry],
      // Workers of one pod (serve --workers) are summed by default: the pod is up only when all are.
      aggregator: 'min',
      async collect() {
        this.set((await health()).status === 'ok' ? 1 : 0);
      },
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (options.isClosing()) return reply.code(503).send({ status: 'closing' });
    if (!migrated) {
      const h = await health();
      if (h.status !== 'ok')
        return reply.code(503).send(h.status === 'unreachable' ? { status: 'database unreachable' } : h);
    }
    return { status: 'ready' };
  });
  app.get('/healthz/database', async (_request, reply) => {
    if (!database) return { status: 'none' };
    const h = await health();
    return reply.code(h.status === 'ok' ? 200 : 503).send(h);
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType);
    return options.metrics.registry.metrics();
  });
  await app.ready();
  return app;
}
