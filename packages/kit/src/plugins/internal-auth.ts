import fp from 'fastify-plugin';
import { type Caller, InternalAuth } from '../internal-auth.ts';

declare module 'fastify' {
  interface FastifyInstance {
    internalAuth: InternalAuth;
  }
  interface FastifyRequest {
    /** The verified caller: the calling service and, when present, the end user. */
    caller: Caller;
  }
}

/** Internal tokens: signs outgoing calls; on a backend (not `public`), every request must carry a valid one. */
export const internalAuthPlugin = fp<{ key: string; public: boolean }>(
  async (app, options) => {
    const internalAuth = new InternalAuth(options.key);
    app.decorate('internalAuth', internalAuth);
    app.decorateRequest('caller', undefined as unknown as Caller);
    if (!options.public) {
      app.addHook('onRequest', async (request) => {
        request.caller = await internalAuth.verify(request.headers.authorization);
      });
    }
  },
  { name: 'livehouse-internal-auth', fastify: '5.x', dependencies: ['livehouse-request-context'] },
);
