import { hash } from 'node:crypto';
import { contents } from '@livehouse/contracts';
import { ifNoneMatch, type ServiceApp } from '@livehouse/kit';
import type { FastifyReply } from 'fastify';
import type { Counter } from 'prom-client';
import { Type } from 'typebox';
import type { Backends } from './backends.ts';
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
    backends: Backends;
    budgetMs: number;
    timeoutScale: number;
    cache: SectionCache;
    degradedCounter: Counter<'view' | 'section'>;
  },
) {
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
          response: { 200: schema, 304: Type.Null({ description: 'Not modified: your copy is current' }) },
        },
      },
      async (request, reply) => {
        const { data, degraded } = await compose(
          name,
          views[name],
          {
            user: request.caller.user as never,
            params: (request.params ?? {}) as Record<string, string>,
            backends: options.backends,
            deadline: Date.now() + options.budgetMs,
            timeoutScale: options.timeoutScale,
          },
          { cache: options.cache, degradedCounter: options.degradedCounter },
        );
        // Serialized here (by the route's schema, as Fastify would) so the ETag is over the bytes sent.
        const body = reply.serialize({ ...shape(data), meta: { degraded } });
        if (typeof body !== 'string') throw new Error('a view serializes to JSON text');
        const json = 'application/json; charset=utf-8';
        reply.header('vary', 'authorization');
        if (degraded.length > 0) {
          // A partial answer is not worth keeping: the next request may well be whole.
          return reply
            .header('livehouse-degraded', degraded.join(','))
            .header('cache-control', 'no-store')
            .type(json)
            .send(body);
        }
        const etag = `W/"${hash('sha1', body, 'base64url')}"`;
        reply
          .header('etag', etag)
          // Anonymous views are the same for everyone for a few seconds (the section cache's own horizon);
          // a personal one (wallet, following) is the caller's alone and revalidated every time.
          .header('cache-control', request.caller.user ? 'private, no-cache' : 'public, max-age=5');
        // A 304 has no body, so no content type either (RFC 9110 §15.4.5).
        if (ifNoneMatch(request.headers['if-none-match'], etag)) return (reply as FastifyReply).code(304).send();
        return reply.type(json).send(body);
      },
    );
  }
}
