import fp from 'fastify-plugin';
import { requestContext, stripInternalHeaders, validTraceparent } from '../context.ts';
import { AppError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** True from the moment `close()` is called: readiness fails and answers close their connections. */
    isClosing(): boolean;
  }
}

/** Every request runs inside its context (ids, trace, deadline), so SQL statements and outgoing calls know their route. */
export const requestContextPlugin = fp<{ public: boolean }>(
  async (app, options) => {
    let closing = false;
    app.decorate('isClosing', () => closing);
    app.addHook('preClose', async () => {
      closing = true;
    });
    app.addHook('onRequest', (request, _reply, done) => {
      // A public service's clients may not pose as the platform: internal headers are not theirs to send.
      if (options.public) stripInternalHeaders(request.headers);
      const traceparent = validTraceparent(request.headers.traceparent)?.traceparent;
      const deadline = Number(request.headers['livehouse-deadline']) || undefined;
      if (deadline !== undefined && deadline <= Date.now()) {
        done(new AppError('deadline_exceeded', 'the caller gave up on this request before it started'));
        return;
      }
      requestContext.run(
        {
          requestId: request.id,
          deadline,
          traceparent,
          route: request.routeOptions.url ?? 'unmatched',
          queries: 0,
        },
        done,
      );
    });
    // While draining, answers close their connection: keep-alive sockets would otherwise hold
    // the server open until their idle timeout. A callback hook: no promise per answer.
    app.addHook('onSend', (_request, reply, payload, done) => {
      if (closing) reply.header('connection', 'close');
      done(null, payload);
    });
  },
  { name: 'livehouse-request-context', fastify: '5.x' },
);
