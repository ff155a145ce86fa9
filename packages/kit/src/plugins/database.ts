import fp from 'fastify-plugin';
import type { BaseConfig } from '../config.ts';
import { requestContext } from '../context.ts';
import { createDatabase, type Database, type DatabaseBackend, openBackend } from '../db/database.ts';
import { type Migrations, migrateToLatest } from '../db/migrate.ts';
import { AppError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's own schema; undefined for a service without migrations. */
    database: Database<unknown> | undefined;
  }
}

export interface DatabasePluginOptions {
  service: string;
  migrations: Migrations | undefined;
  config: BaseConfig['database'];
  /** Shared with other services (`livehouse up`, tests): its opener closes it. Otherwise opened from config. */
  backend?: DatabaseBackend | undefined;
}

/** The service's schema through Kysely, statements counted per route (`livehouse-db-queries` on every answer). */
export const databasePlugin = fp<DatabasePluginOptions>(
  async (app, o) => {
    if (!o.migrations) {
      app.decorate('database', undefined);
      return;
    }
    if (!o.config) throw new AppError('internal_error', `${o.service} needs database.url in its config`);
    const owned = o.backend ? undefined : await openBackend(o.config.url, o.config);
    app.addHook('onClose', async () => owned?.close());
    const backend = o.backend ?? (owned as DatabaseBackend);
    const schema = o.config.schema ?? o.service;
    const database = createDatabase<unknown>(backend, { service: o.service, schema, metrics: app.metrics });
    if (o.config.migrateOnStart) await migrateToLatest(database, o.migrations);
    app.decorate('database', database);
    // A callback hook: no promise per answer.
    app.addHook('onSend', (_request, reply, payload, done) => {
      const ctx = requestContext.getStore();
      if (ctx) reply.header('livehouse-db-queries', String(ctx.queries));
      done(null, payload);
    });
  },
  { name: 'livehouse-database', fastify: '5.x', dependencies: ['livehouse-metrics', 'livehouse-request-context'] },
);
