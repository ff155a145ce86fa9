import {
  type AnyServiceDefinition,
  buildService,
  closeOnSignal,
  createDatabase,
  listen,
  loadConfigFile,
  migrateToLatest,
  openBackend,
} from '@livehouse/kit';
import { services } from './services.ts';

export function definitionOf(name: string): AnyServiceDefinition {
  const entry = services[name];
  if (!entry) {
    throw new Error(`unknown service '${name}': one of ${Object.keys(services).join(', ')}`);
  }
  return entry.definition;
}

/** `livehouse serve <service> --config FILE`: one service, as a pod runs it. */
export async function serve(name: string, configFile: string) {
  const def = definitionOf(name);
  const config = loadConfigFile(configFile, def.config);
  const service = await buildService(def, config);
  const urls = await listen(service, config.http);
  service.api.log.info({ api: urls.apiUrl, admin: urls.adminUrl }, `${name} listening`);
  closeOnSignal(() => service.close(), { timeoutMs: config.http.shutdownTimeoutMs, log: service.api.log });
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
