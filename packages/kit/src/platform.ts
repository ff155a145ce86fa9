import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { parseConfig } from './config.ts';
import type { DatabaseBackend } from './db/database.ts';
import type { EventBus } from './events/bus.ts';
import { InProcessEventBus } from './events/memory-bus.ts';
import { type Listening, listen } from './run.ts';
import { type BuiltService, buildService, type ServiceDefinition } from './service.ts';

/** A definition of any service; the platform only needs its name, dependencies and config keys. */
// biome-ignore lint/suspicious/noExplicitAny: definitions differ in config and schema types
export type AnyServiceDefinition = ServiceDefinition<any, any, any>;

export interface PlatformOptions {
  /** One database backend shared by every service, each in its own schema. */
  backend: DatabaseBackend;
  /** Secrets as environment variables would give them (LIVEHOUSE_*). */
  env: Record<string, string>;
  host?: string;
  /** Fixed ports per service (`livehouse up`); 0 (any free port) when absent. */
  ports?: (name: string) => { port: number; adminPort: number };
  /** Extra YAML-shaped config per service: its own section, log level, … */
  config?: (name: string) => Record<string, unknown>;
  /** Prefix of every schema name, so that test runs on one PostgreSQL server do not collide. */
  schemaPrefix?: string;
  logger?: (name: string) => FastifyBaseLogger;
  /** The event bus every service of the platform shares; an in-process one when absent. */
  bus?: EventBus;
  /** Outbox relay tuning (tests poll faster). */
  relay?: { pollMs?: number };
}

export interface RunningService extends Listening {
  built: BuiltService;
}

export interface Platform {
  services: Map<string, RunningService>;
  url(name: string): string;
  close(): Promise<void>;
}

/** Dependencies first: a service's clients need the URLs of the services it calls. */
export function startOrder(defs: readonly AnyServiceDefinition[]) {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const ordered: AnyServiceDefinition[] = [];
  const visiting = new Set<string>();
  const visit = (def: AnyServiceDefinition) => {
    if (ordered.includes(def)) return;
    if (visiting.has(def.name)) throw new Error(`services depend on each other in a cycle through ${def.name}`);
    visiting.add(def.name);
    for (const dep of def.dependsOn) {
      const target = byName.get(dep);
      if (target) visit(target);
    }
    ordered.push(def);
  };
  for (const def of defs) visit(def);
  return ordered;
}

/**
 * Starts several services in one process, each on its own loopback port, all on one database
 * backend: what `livehouse up` runs, and what integration tests start.
 */
export async function startPlatform(
  defs: readonly AnyServiceDefinition[],
  options: PlatformOptions,
): Promise<Platform> {
  const host = options.host ?? '127.0.0.1';
  const services = new Map<string, RunningService>();
  const bus = options.bus ?? new InProcessEventBus();
  const platform: Platform = {
    services,
    url(name) {
      const s = services.get(name);
      if (!s) throw new Error(`service ${name} is not running`);
      return s.apiUrl;
    },
    async close() {
      // Consumers first handle what was published (in-process, it would be lost); relays then leave
      // the rest in their outboxes for the next start.
      await bus.drain();
      // Callers first, so nothing calls a service that is already gone.
      for (const s of [...services.values()].reverse()) await s.built.close();
      if (!options.bus) await bus.close();
    },
  };
  try {
    for (const def of startOrder(defs)) {
      const ports = options.ports?.(def.name) ?? { port: 0, adminPort: 0 };
      const raw = {
        http: { host, ...ports },
        ...(def.migrations && {
          database: {
            url: 'shared://',
            schema: `${options.schemaPrefix ?? ''}${def.name}`,
            migrateOnStart: true,
          },
        }),
        services: Object.fromEntries(def.dependsOn.filter((d) => services.has(d)).map((d) => [d, platform.url(d)])),
        ...options.config?.(def.name),
      };
      const config = parseConfig(raw, def.config, { source: `${def.name} (embedded)`, env: options.env });
      const logger = options.logger?.(def.name);
      const built = await buildService(def, config, {
        backend: options.backend,
        bus,
        ...(options.relay && { relay: options.relay }),
        ...(logger && { logger }),
      });
      const urls = await listen(built, config.http);
      services.set(def.name, { built, ...urls });
    }
  } catch (err) {
    await platform.close();
    throw err;
  }
  return platform;
}

/**
 * Fresh secrets for a development platform or a test run: the internal key, auth's signing key and the
 * webhook secret the embedded payment provider signs with.
 */
export function generateDevSecrets(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    LIVEHOUSE_INTERNAL_KEY: randomBytes(32).toString('base64url'),
    LIVEHOUSE_AUTH_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    LIVEHOUSE_STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64url')}`,
  };
}
