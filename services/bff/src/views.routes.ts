import { contents } from '@livehouse/contracts';
import type { ResilientBackend, ServiceApp } from '@livehouse/kit';
import type { Counter } from 'prom-client';
import { Type } from 'typebox';
import { compose, type SectionCache } from './compose.ts';
import { shapes } from './views/shapes.ts';
import { type ViewName, views } from './views/views.ts';

const routes: Record<ViewName, { path: string; params?: ReturnType<typeof Type.Object> }> = {
  home: { path: '/home' },
  stream: { path: '/streams/:id', params: contents.IdParams },
  channel: { path: '/channels/:id', params: contents.IdParams },
  profile: { path: '/users/:id', params: Type.Object({ id: contents.IdParams.properties.id }) },
};

/** GET routes of every view for one client: compose the sections, shape them for the client. */
export async function viewRoutes(
  app: ServiceApp,
  options: {
    client: 'app' | 'web';
    backends: Map<string, ResilientBackend>;
    budgetMs: number;
    timeoutScale: number;
    cache: SectionCache;
    degradedCounter: Counter<'view' | 'section'>;
  },
) {
  const backend = (name: string) => {
    const b = options.backends.get(name);
    if (!b) throw new Error(`the bff has no backend ${name}`);
    return b;
  };
  for (const name of Object.keys(views) as ViewName[]) {
    const { path, params } = routes[name];
    const { schema, shape } = shapes[options.client][name];
    app.get(
      path,
      {
        schema: {
          tags: [options.client],
          summary: `${name} view (${options.client})`,
          ...(params && { params }),
          response: { 200: schema },
        },
      },
      async (request, reply) => {
        const { data, degraded } = await compose(
          name,
          views[name],
          {
            user: request.caller.user as never,
            params: (request.params ?? {}) as Record<string, string>,
            backend,
            deadline: Date.now() + options.budgetMs,
            timeoutScale: options.timeoutScale,
          },
          { cache: options.cache, degradedCounter: options.degradedCounter },
        );
        if (degraded.length > 0) reply.header('livehouse-degraded', degraded.join(','));
        return { ...shape(data), meta: { degraded } };
      },
    );
  }
}
