import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** One registry per service, so `livehouse up` can serve each service's metrics on its own admin port. */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  dbQueries: Counter<'service' | 'route'>;
}

let defaultsRegistered: Registry | undefined;

export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  // Process metrics describe the process, not a service: register them once per process.
  if (!defaultsRegistered) {
    collectDefaultMetrics({ register: registry });
    defaultsRegistered = registry;
  }
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    dbQueries: new Counter({
      name: 'db_queries_total',
      help: 'SQL statements executed, by service and route',
      labelNames: ['service', 'route'],
      registers: [registry],
    }),
  };
}
