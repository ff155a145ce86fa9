import cluster from 'node:cluster';
import { createServer } from 'node:http';
import {
  type AnyServiceDefinition,
  buildService,
  ConfigError,
  closeOnSignal,
  createDatabase,
  isPostgresUrl,
  listen,
  loadConfigFile,
  migrateToLatest,
  openBackend,
} from '@livehouse/kit';
import { AggregatorRegistry } from 'prom-client';
import { services } from './services.ts';
import { planWorkers, runWorkers } from './workers.ts';

export function definitionOf(name: string): AnyServiceDefinition {
  const entry = services[name];
  if (!entry) {
    throw new Error(`unknown service '${name}': one of ${Object.keys(services).join(', ')}`);
  }
  return entry.definition;
}

/** `livehouse serve <service> --config FILE [--workers n|auto]`: one service, as a pod runs it. */
export async function serve(name: string, configFile: string, workers?: string) {
  const def = definitionOf(name);
  const config = loadConfigFile(configFile, def.config);
  if (workers === undefined) {
    const service = await buildService(def, config);
    const urls = await listen(service, config.http);
    service.api.log.info({ api: urls.apiUrl, admin: urls.adminUrl }, `${name} listening`);
    closeOnSignal(() => service.close(), { timeoutMs: config.http.shutdownTimeoutMs, log: service.api.log });
    return;
  }
  const plan = planWorkers(workers);
  if (plan.workers > 1 && config.database && !isPostgresUrl(config.database.url)) {
    // Embedded PGlite lives inside one process; workers need a database server.
    throw new ConfigError(configFile, [
      'database.url must be a postgres:// URL when --workers runs more than one process',
    ]);
  }
  if (cluster.isPrimary) {
    // The workers share the API port; the admin port is the primary's, so that Prometheus and the
    // probes see the whole pod: metrics summed over the workers, ready when every worker is.
    const readiness = { ready: 0, stopping: false };
    cluster.on('message', (_worker, message: { type?: string }) => {
      if (message?.type === 'livehouse:worker-ready') readiness.ready++;
    });
    cluster.on('exit', () => {
      readiness.ready = Math.max(0, Object.keys(cluster.workers ?? {}).length - 1);
    });
    process.once('SIGTERM', () => {
      readiness.stopping = true;
    });
    // Migrate once, here, rather than in every worker at the same time.
    if (def.migrations && config.database?.migrateOnStart) await migrate(name, configFile);
    await primaryAdmin(config.http, () => !readiness.stopping && readiness.ready >= plan.workers);
    await runWorkers(plan.workers, async () => {}, {
      heapMiB: plan.heapMiB,
      shutdownTimeoutMs: config.http.shutdownTimeoutMs + 5000,
    });
    return;
  }
  await runWorkers(plan.workers, async () => {
    const own = config.database ? { ...config, database: { ...config.database, migrateOnStart: false } } : config;
    const service = await buildService(def, own);
    await listen(service, { ...config.http, adminPort: 0 });
    // Constructing one installs prom-client's listener that answers the primary's metric requests.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([service.metrics.registry]);
    closeOnSignal(() => service.close(), { timeoutMs: config.http.shutdownTimeoutMs, log: service.api.log });
  });
}

async function primaryAdmin(http: { host: string; adminPort: number }, isReady: () => boolean) {
  const aggregator = new AggregatorRegistry();
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz')
      return isReady() ? json(200, { status: 'ready' }) : json(503, { status: 'workers starting or stopping' });
    if (path === '/metrics') {
      aggregator.clusterMetrics().then(
        (text) => res.writeHead(200, { 'content-type': aggregator.contentType }).end(text),
        (err: Error) => json(503, { status: 'metrics unavailable', error: err.message }),
      );
      return;
    }
    json(404, { error: { code: 'route_not_found', message: `no route for ${req.method} ${path}`, requestId: '' } });
  });
  await new Promise<void>((resolve) => server.listen(http.adminPort, http.host, resolve));
  server.unref();
}

/** `livehouse migrate <service> --config FILE`: what a Kubernetes Job runs before the pods roll. */
export async function migrate(name: string, configFile: string) {
  const def = definitionOf(name);
  const config = loadConfigFile(configFile, def.config);
  if (!def.migrations || !config.database) {
    console.log(`${name} has no database: nothing to migrate`);
    return;
  }
  const backend = await openBackend(config.database.url, config.database);
  try {
    const database = createDatabase(backend, { service: name, schema: config.database.schema ?? name });
    const applied = await migrateToLatest(database, def.migrations);
    console.log(applied.length ? `${name}: applied ${applied.join(', ')}` : `${name}: up to date`);
  } finally {
    await backend.close();
  }
}
