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
      // A callback hook: a token seen before is answered from the cache with no promise per request.
      app.addHook('onRequest', (request, _reply, done) => {
        const known = internalAuth.verifiedCaller(request.headers.authorization);
        if (known) {
          request.caller = known;
          done();
          return;
        }
        internalAuth.verify(request.headers.authorization).then((caller) => {
          request.caller = caller;
          done();
        }, done);
      });
    }
  },
  { name: 'livehouse-internal-auth', fastify: '5.x', dependencies: ['livehouse-request-context'] },
);
