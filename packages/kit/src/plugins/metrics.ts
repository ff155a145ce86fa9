import fp from 'fastify-plugin';
import { createMetrics, type Metrics } from '../metrics.ts';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** The service's Prometheus registry and the request duration histogram. */
export const metricsPlugin = fp<{ service: string }>(
  async (app, { service }) => {
    const metrics = createMetrics(service);
    app.decorate('metrics', metrics);
    // A callback hook: no promise per answer.
    app.addHook('onResponse', (request, reply, done) => {
      metrics.httpDuration.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      if (reply.statusCode >= 500) request.log.warn({ status: reply.statusCode, url: request.url }, 'server error');
      done();
    });
  },
  { name: 'livehouse-metrics', fastify: '5.x' },
);
