import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  createBackendMetrics,
  defineService,
  ResilientBackend,
  rateLimited,
  ServiceClient,
  trustedProxies,
} from '@livehouse/kit';
import { Counter } from 'prom-client';
import { Type } from 'typebox';
import { AccessTokenVerifier } from './access-token.ts';
import { backendsOf } from './backends.ts';
import { chatProxy } from './chat.proxy.ts';
import { commandRoutes, loggedIn, webhookRoutes } from './commands.routes.ts';
import { SectionCache } from './compose.ts';
import { contractOnRoute, documentHeaders, documentRoute } from './openapi.ts';
import { viewRoutes } from './views.routes.ts';

/** Client prefixes: one per client type. Views differ per client; commands are shared. */
export const CLIENTS = ['app', 'web'] as const;

/** The default view budget (`bff.requestBudgetMs`). */
export const REQUEST_BUDGET_MS = 800;

const Limit = (max: number, windowMs: number) =>
  Type.Object(
    { max: Type.Integer({ minimum: 1, default: max }), windowMs: Type.Integer({ minimum: 100, default: windowMs }) },
    { default: {}, additionalProperties: false },
  );

const BackendOverrides = Type.Object(
  {
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
    breakerFailures: Type.Optional(Type.Integer({ minimum: 1 })),
    halfOpenAfterMs: Type.Optional(Type.Integer({ minimum: 10 })),
    maxConcurrent: Type.Optional(Type.Integer({ minimum: 1 })),
    maxQueued: Type.Optional(Type.Integer({ minimum: 0 })),
    retryRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  },
  { additionalProperties: false },
);

const config = {
  bff: Type.Object(
    {
      /** Every view answers within this budget; it is passed to backends as their deadline. */
      requestBudgetMs: Type.Integer({ minimum: 50, default: REQUEST_BUDGET_MS }),
      /** Timeout of commands (sign-up hashes a password, a stamp moves points); view sections set their own. */
      commandTimeoutMs: Type.Integer({ minimum: 10, default: 5000 }),
      /** Multiplies every section's timeout; leave at 1 in production (tests on a loaded machine raise it). */
      timeoutScale: Type.Number({ minimum: 0.1, maximum: 100, default: 1 }),
      /** Resilience per backend, overriding the defaults (breaker after 5 failures, half-open after 2 s, …). */
      backends: Type.Record(Type.String(), BackendOverrides, { default: {} }),
      rateLimit: Type.Object(
        { perIp: Limit(600, 60_000), perUser: Limit(600, 60_000) },
        { default: {}, additionalProperties: false },
      ),
      /** Serve the OpenAPI document at /docs/json and Swagger UI at /docs. */
      docs: Type.Boolean({ default: true }),
    },
    { default: {}, additionalProperties: false },
  ),
};

/** The backend for frontends: the only public entry of the platform. */
export const bffService = defineService({
  name: 'bff',
  config,
  dependsOn: ['auth', 'user', 'contents', 'stamp', 'point', 'timeline', 'chat', 'payment'],
  public: true,
  // Public sections' last good values, shared by both clients' views (tests clear it through depsOf).
  setup: () => ({ sectionCache: new SectionCache() }),
  routes: async (app, ctx) => {
    const own = ctx.config.bff;
    const backendMetrics = createBackendMetrics(ctx.metrics.registry);
    // The media plane is optional (an API-only deployment has none): the edge is a backend only when configured.
    const edgeUrl = ctx.config.services.edge;
    const edge = edgeUrl ? new ServiceClient('edge', edgeUrl, { caller: 'bff', auth: ctx.internalAuth }) : undefined;
    if (edge) app.addHook('onClose', () => edge.close());
    const backends = backendsOf(
      ctx.clients,
      edge,
      (client) =>
        new ResilientBackend(
          client,
          { timeoutMs: own.commandTimeoutMs, ...own.backends[client.target] },
          backendMetrics,
        ),
    );
    const degradedCounter = new Counter({
      name: 'bff_degraded_sections_total',
      help: 'View sections answered from a last known value or a default, by view and section',
      labelNames: ['view', 'section'],
      registers: [ctx.metrics.registry],
    });
    const verifier = new AccessTokenVerifier(() => backends.auth.jwks());
    const limiter = ctx.limiter('livehouse:ratelimit:');

    if (own.docs) {
      await app.register(swagger, {
        openapi: {
          info: {
            title: 'livehouse public API',
            version: '1',
            description: 'The BFF: /app/v1 for the native app, /web/v1 for the PC web.',
            license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
          },
          servers: [{ url: '/', description: 'the host that serves this document' }],
          components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        },
        transform: documentRoute,
        transformObject: (doc) => documentHeaders('openapiObject' in doc ? doc.openapiObject : {}),
      });
      await app.register(swaggerUi, { routePrefix: '/docs' });
    }

    // JSON only: Fastify's default text/plain parser would hand a string to the body schema (400, not 415).
    app.removeContentTypeParser('text/plain');
    app.addHook('onRoute', contractOnRoute);

    // Every request: rate limits by IP and by user; the token as the route's contract says. A protected route
    // answers 401 before its body is read; a public one treats a stale token as anonymous (with a hint), so a
    // client holding an expired token is never locked out of the home page, the catalog or logging in again.
    app.addHook('onRequest', async (request, reply) => {
      // Every answer names its request, not only errors: a client can quote it in a support ticket.
      reply.header('x-request-id', request.id);
      if (request.url.startsWith('/docs')) return;
      const byIp = await limiter.hit(`bff:ip:${request.ip}`, own.rateLimit.perIp);
      if (!byIp.allowed) throw rateLimited(byIp, 'requests from your address');
      const mode = request.routeOptions.config.auth ?? 'optional';
      const authorization = request.headers.authorization;
      request.caller = { service: 'bff' };
      if (authorization && mode !== 'none') {
        try {
          request.caller = { service: 'bff', user: await verifier.verify(authorization) };
        } catch (err) {
          if (mode === 'required') throw err;
          reply.header('www-authenticate', 'Bearer error="invalid_token"');
        }
      }
      if (mode === 'required' && !request.caller.user) loggedIn(request);
      if (request.caller.user) {
        const byUser = await limiter.hit(`bff:user:${request.caller.user.id}`, own.rateLimit.perUser);
        if (!byUser.allowed) throw rateLimited(byUser, 'requests from your account');
      }
    });

    const chat = chatProxy({
      chatUrl: ctx.config.services.chat as string,
      verifier,
      internalAuth: ctx.internalAuth,
      limiter,
      perIp: own.rateLimit.perIp,
      trustProxy: trustedProxies(ctx.config.http.trustProxy),
      log: ctx.log,
    });
    app.server.on('upgrade', chat.onUpgrade);
    app.addHook('preClose', async () => chat.close());

    await app.register(async (scope) => webhookRoutes(scope as typeof app, backends));

    const cache = ctx.deps.sectionCache;
    for (const client of CLIENTS) {
      await app.register(
        async (scope) => {
          await commandRoutes(scope as typeof app, backends);
          await viewRoutes(scope as typeof app, {
            client,
            backends,
            budgetMs: own.requestBudgetMs,
            timeoutScale: own.timeoutScale,
            cache,
            degradedCounter,
          });
        },
        { prefix: `/${client}/v1` },
      );
    }
  },
});
