import { defineService } from '@livehouse/kit';
import type { JSONWebKeySet } from 'jose';
import { AccessTokenVerifier } from './access-token.ts';
import { commandRoutes } from './commands.routes.ts';

/** Client prefixes: one per client type. Views differ per client; commands are shared. */
export const CLIENTS = ['app', 'web'] as const;

/** The backend for frontends: the only public entry of the platform. */
export const bffService = defineService({
  name: 'bff',
  config: {},
  dependsOn: ['auth', 'user'],
  public: true,
  routes: async (app, ctx) => {
    const clients = { auth: ctx.clients.auth!, user: ctx.clients.user! };
    const verifier = new AccessTokenVerifier(() => clients.auth.get<JSONWebKeySet>('/.well-known/jwks.json'));

    // Every request: an access token, when sent, must be valid; without one the caller is anonymous.
    app.addHook('onRequest', async (request) => {
      const authorization = request.headers.authorization;
      request.caller = authorization
        ? { service: 'bff', user: await verifier.verify(authorization) }
        : { service: 'bff' };
    });

    for (const client of CLIENTS) {
      await app.register(async (scope) => commandRoutes(scope as typeof app, clients), { prefix: `/${client}/v1` });
    }
  },
});
