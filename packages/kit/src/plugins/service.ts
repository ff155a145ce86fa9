import { apis, type RouteTable } from '@livehouse/contracts';
import fp from 'fastify-plugin';
import { contractProblems, type RegisteredRoute, registeredRoutes } from '../route-contract.ts';
import type { ServiceApp, ServiceConfig, ServiceContext, ServiceDefinition, SetupContext } from '../service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** What the service's `setup` returned (see `depsOf` for a typed view). */
    serviceDeps: unknown;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the plugin mounts a definition of any config, schema and deps
type AnyDefinition = ServiceDefinition<any, any, any>;

/**
 * The service itself: `setup` builds its dependencies once, then its routes, background work and
 * consumers all receive them as `ctx.deps`. Background work stops before the API drains.
 */
export const servicePlugin = fp<{ def: AnyDefinition; config: ServiceConfig<never> }>(
  async (app, { def, config }) => {
    const ctx: SetupContext<never, unknown> & ServiceContext<never, unknown, unknown> = {
      name: def.name,
      config,
      get db() {
        if (!app.database) throw new Error(`${def.name} has no database`);
        return app.database.db;
      },
      clients: app.clients,
      internalAuth: app.internalAuth,
      metrics: app.metrics,
      redis: app.redis,
      limiter: (prefix) => app.limiter(prefix),
      log: app.log,
      bus: app.bus,
      onClose: (hook) => app.addHook('onClose', async () => hook()),
      deps: undefined,
    };
    ctx.deps = def.setup ? await def.setup(ctx) : undefined;
    app.decorate('serviceDeps', ctx.deps);
    const routes: RegisteredRoute[] = [];
    app.addHook('onRoute', (options) => {
      routes.push(...registeredRoutes(options));
    });
    await app.register(async (scope) => def.routes(scope as unknown as ServiceApp, ctx));
    // The contract its callers' typed clients are made from must be what the service serves: else it does not start.
    const contract = (apis as Record<string, RouteTable>)[def.name];
    const problems = contract ? contractProblems(def.name, contract, routes) : [];
    if (problems.length > 0) throw new Error(`${def.name} does not serve its contract:\n${problems.join('\n')}`);
    const background = def.background ? await def.background(ctx) : undefined;
    app.addHook('preClose', async () => background?.stop());
    await app.startEvents(ctx, def.consumes);
  },
  {
    name: 'livehouse-service',
    fastify: '5.x',
    dependencies: ['livehouse-clients', 'livehouse-events', 'livehouse-redis', 'livehouse-database'],
  },
);
