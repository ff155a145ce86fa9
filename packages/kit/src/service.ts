import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { EventType } from '@livehouse/contracts';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import type { Static, TObject, TProperties } from 'typebox';
import type { BaseConfig } from './config.ts';
import type { Database, DatabaseBackend } from './db/database.ts';
import type { Migrations } from './db/migrate.ts';
import { AppError } from './errors.ts';
import type { EventBus } from './events/bus.ts';
import type { ConsumeHandlers } from './events/consumer.ts';
import type { Caller, InternalAuth } from './internal-auth.ts';
import { loggerOptions } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { adminPlugin } from './plugins/admin.ts';
import { clientsPlugin } from './plugins/clients.ts';
import { databasePlugin } from './plugins/database.ts';
import { eventsPlugin } from './plugins/events.ts';
import { internalAuthPlugin } from './plugins/internal-auth.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { redisPlugin } from './plugins/redis.ts';
import { requestContextPlugin } from './plugins/request-context.ts';
import { createServer } from './plugins/server.ts';
import { servicePlugin } from './plugins/service.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { Clients } from './typed-client.ts';

export type ServiceApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export type ServiceConfig<S extends TProperties> = BaseConfig & Static<TObject<S>>;

/** What `setup` gets: the service's infrastructure, each piece made by a kit plugin. */
export interface SetupContext<S extends TProperties, DB> {
  name: string;
  config: ServiceConfig<S>;
  /** The service's own schema; throws if the service declared no migrations. */
  db: Kysely<DB>;
  /** Clients for the services named in `dependsOn`, from `config.services`: `clients.point.spend({ body })`. */
  clients: Clients;
  internalAuth: InternalAuth;
  metrics: Metrics;
  /** The process's one Redis client, from `redis.url`; undefined without it. */
  redis: Redis | undefined;
  /** A rate limiter under `prefix`: shared through Redis when `redis.url` is set, per process otherwise. */
  limiter(prefix: string): RateLimiter;
  log: FastifyBaseLogger;
  /** The event bus, when the service produces or consumes events. */
  bus?: EventBus | undefined;
  /** Runs when the service closes, after the API has drained: close what `setup` opened. */
  onClose(hook: () => Promise<void> | void): void;
}

/** What routes, consumers and background work get: the infrastructure and the `deps` that `setup` returned. */
export interface ServiceContext<S extends TProperties, DB, D = undefined> extends Omit<SetupContext<S, DB>, 'onClose'> {
  deps: D;
}

/** Everything that makes a service, in one value: `livehouse serve`, `livehouse up` and tests all mount it. */
export interface ServiceDefinition<S extends TProperties = TProperties, DB = unknown, D = undefined> {
  name: string;
  /** The service's own config keys (validated at start-up together with the base keys). */
  config: S;
  /** Migrations of the schema the service owns; absent for services without a database. */
  migrations?: Migrations;
  /** Services this one calls; each needs a URL under `services:` in the config. */
  dependsOn: readonly string[];
  /** Public services (the BFF) authenticate end users themselves; all others require internal tokens. */
  public?: boolean;
  /** Builds, once per running service, what its routes, consumers and background work share (`ctx.deps`). */
  setup?: (ctx: SetupContext<S, DB>) => Promise<D> | D;
  /** Routes and domain logic: one Fastify plugin. */
  routes: (app: ServiceApp, ctx: ServiceContext<S, DB, D>) => Promise<void>;
  /** Background work started after the routes exist (workers, schedulers); stopped before the API drains. */
  background?: (ctx: ServiceContext<S, DB, D>) => Promise<{ stop(): Promise<void> }>;
  /**
   * Event types this service writes to its outbox (which needs `createOutboxTable` in a migration): the kit
   * relays them. Declare it: a service without it is relayed only if its outbox exists when it starts.
   */
  produces?: readonly EventType[];
  /**
   * Handlers of the events this service consumes (its migrations need `createProcessedEventsTable`):
   * each runs in the transaction that records the event as processed, so it is applied once.
   */
  consumes?: ConsumeHandlers<DB, ServiceContext<S, DB, D>>;
}

/** Preserves the literal types of a definition. */
export function defineService<S extends TProperties, DB, D = undefined>(definition: ServiceDefinition<S, DB, D>) {
  return definition;
}

export interface BuildOptions {
  /** A database backend shared with other services (`livehouse up`, tests); otherwise opened from config. */
  backend?: DatabaseBackend;
  /** Created by the caller when several services share a process and a log stream. */
  logger?: FastifyBaseLogger;
  /** A Redis client owned by the caller; otherwise the kit makes one from `redis.url`. */
  redis?: Redis;
  /** The event bus shared by the services of one process (`livehouse up`); otherwise Redis from `redis.url`. */
  bus?: EventBus;
  /** Outbox relay tuning (tests poll faster). */
  relay?: { pollMs?: number };
}

export interface BuiltService {
  name: string;
  api: ServiceApp;
  admin: FastifyInstance;
  database: Database<unknown> | undefined;
  metrics: Metrics;
  /** The shared Redis client, when `redis.url` is configured. */
  redis: Redis | undefined;
  /** What the definition's `setup` returned; read it typed through `depsOf`. */
  deps: unknown;
  /** Stops background work, closes the API (draining in-flight requests), the admin server, clients and pools. */
  close(): Promise<void>;
}

/** The service as named plugins; each closes what it opened, in reverse order, when the API closes. */
export async function buildService<S extends TProperties, DB, D>(
  def: ServiceDefinition<S, DB, D>,
  config: ServiceConfig<S>,
  options: BuildOptions = {},
): Promise<BuiltService> {
  const api = createServer(config, options.logger ?? pino(loggerOptions(def.name, config.log.level)));
  try {
    await api.register(requestContextPlugin, { public: def.public ?? false });
    await api.register(metricsPlugin, { service: def.name });
    await api.register(internalAuthPlugin, { key: config.secrets.internalKey, public: def.public ?? false });
    await api.register(databasePlugin, {
      service: def.name,
      migrations: def.migrations,
      config: config.database,
      backend: options.backend,
    });
    await api.register(redisPlugin, {
      url: config.redis?.url,
      keyPrefix: config.redis?.keyPrefix,
      client: options.redis,
    });
    await api.register(clientsPlugin, { caller: def.name, dependsOn: def.dependsOn, urls: config.services });
    await api.register(eventsPlugin, {
      service: def.name,
      produces: def.produces,
      consumes: Object.keys(def.consumes ?? {}).length > 0,
      bus: options.bus,
      relay: options.relay,
    });
    await api.register(servicePlugin, { def, config: config as ServiceConfig<never> });
    await api.register(adminPlugin, { migrations: def.migrations });
    await api.ready();
  } catch (err) {
    await api.close().catch(() => {});
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    name: def.name,
    api: api as unknown as ServiceApp,
    admin: api.adminServer,
    database: api.database,
    metrics: api.metrics,
    redis: api.redis,
    deps: api.serviceDeps,
    close: () => {
      closed ??= api.close();
      return closed;
    },
  };
}

/** The `setup` result of a running service, typed by its definition (tests reach a hub or a worker this way). */
export function depsOf<S extends TProperties, DB, D>(built: BuiltService, def: ServiceDefinition<S, DB, D>): D {
  if (built.name !== def.name) throw new Error(`${built.name} is not ${def.name}`);
  return built.deps as D;
}

/** For handlers: the end user on whose behalf the call was made, or 401. */
export function requireUser(caller: Caller) {
  if (!caller.user) throw new AppError('unauthorized', 'log in first: this needs a user');
  return caller.user;
}

/** For handlers: the user must be `id` itself or an admin. */
export function requireSelfOrAdmin(caller: Caller, id: string) {
  const user = requireUser(caller);
  if (user.id !== id && !user.roles.includes('admin')) {
    throw new AppError('forbidden', 'you may only change your own data');
  }
  return user;
}

/** For handlers: only these services may call this route. */
export function requireService(caller: Caller, ...services: string[]) {
  if (!services.includes(caller.service)) {
    throw new AppError('forbidden', `only ${services.join(', ')} may call this`);
  }
}
