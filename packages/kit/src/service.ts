import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { EventType } from '@livehouse/contracts';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController, type RawServerDefault } from 'fastify';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import type { Static, TObject, TProperties } from 'typebox';
import { admin } from './admin.ts';
import { trustedProxies } from './client-address.ts';
import type { BaseConfig } from './config.ts';
import { requestContext, stripInternalHeaders } from './context.ts';
import { createDatabase, type Database, type DatabaseBackend, openBackend } from './db/database.ts';
import { type Migrations, migrateToLatest } from './db/migrate.ts';
import { AppError, errorHandler, notFoundHandler } from './errors.ts';
import type { EventBus } from './events/bus.ts';
import type { ConsumeHandlers } from './events/consumer.ts';
import { RedisEventBus } from './events/redis-bus.ts';
import { hasOutbox, startServiceEvents } from './events/runtime.ts';
import { ServiceClient } from './http-client.ts';
import { type Caller, InternalAuth } from './internal-auth.ts';
import { loggerOptions } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export type ServiceApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export type ServiceConfig<S extends TProperties> = BaseConfig & Static<TObject<S>>;

export interface ServiceContext<S extends TProperties, DB> {
  name: string;
  config: ServiceConfig<S>;
  /** The service's own schema; throws if the service declared no migrations. */
  db: Kysely<DB>;
  /** Clients for the services named in `dependsOn`, from `config.services`. */
  clients: Record<string, ServiceClient>;
  internalAuth: InternalAuth;
  metrics: Metrics;
  redis: Redis | undefined;
  log: FastifyBaseLogger;
  /** The event bus, when the service produces or consumes events. */
  bus?: EventBus | undefined;
}

/** Everything that makes a service, in one value: `livehouse serve`, `livehouse up` and tests all mount it. */
export interface ServiceDefinition<S extends TProperties = TProperties, DB = unknown> {
  name: string;
  /** The service's own config keys (validated at start-up together with the base keys). */
  config: S;
  /** Migrations of the schema the service owns; absent for services without a database. */
  migrations?: Migrations;
  /** Services this one calls; each needs a URL under `services:` in the config. */
  dependsOn: readonly string[];
  /** Public services (the BFF) authenticate end users themselves; all others require internal tokens. */
  public?: boolean;
  /** Routes and domain logic: one Fastify plugin. */
  routes: (app: ServiceApp, ctx: ServiceContext<S, DB>) => Promise<void>;
  /** Background work started after the API listens (consumers, relays); stopped on close. */
  background?: (ctx: ServiceContext<S, DB>) => Promise<{ stop(): Promise<void> }>;
  /**
   * Event types this service writes to its outbox (which needs `createOutboxTable` in a migration): the kit
   * relays them. Declare it: a service without it is relayed only if its outbox exists when it starts.
   */
  produces?: readonly EventType[];
  /**
   * Handlers of the events this service consumes (its migrations need `createProcessedEventsTable`):
   * each runs in the transaction that records the event as processed, so it is applied once.
   */
  consumes?: ConsumeHandlers<DB, ServiceContext<S, DB>>;
}

/** Preserves the literal types of a definition. */
export function defineService<S extends TProperties, DB>(definition: ServiceDefinition<S, DB>) {
  return definition;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller: the calling service and, when present, the end user. */
    caller: Caller;
  }
}

export interface BuildOptions {
  /** A database backend shared with other services (`livehouse up`, tests); otherwise opened from config. */
  backend?: DatabaseBackend;
  /** Created by the caller when several services share a process and a log stream. */
  logger?: FastifyBaseLogger;
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
  /** Stops background work, closes the API (draining in-flight requests), clients and the database. */
  close(): Promise<void>;
}

function validatorCompilers() {
  // Bodies are JSON: no type coercion, no silent removal of unknown fields. Paths and query
  // strings are text: numbers and booleans in them are coerced.
  const body = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false });
  const text = new Ajv({ coerceTypes: 'array', removeAdditional: false, useDefaults: true, strict: false });
  addFormats(body);
  addFormats(text);
  return { body, text };
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildService<S extends TProperties, DB>(
  def: ServiceDefinition<S, DB>,
  config: ServiceConfig<S>,
  options: BuildOptions = {},
): Promise<BuiltService> {
  const logger = options.logger ?? pino(loggerOptions(def.name, config.log.level));
  const metrics = createMetrics(def.name);
  const internalAuth = new InternalAuth(config.secrets.internalKey);

  let ownedBackend: DatabaseBackend | undefined;
  let database: Database<DB> | undefined;
  if (def.migrations) {
    if (!config.database) throw new AppError('internal_error', `${def.name} needs database.url in its config`);
    if (!options.backend) ownedBackend = await openBackend(config.database.url, config.database);
    const backend = options.backend ?? (ownedBackend as DatabaseBackend);
    database = createDatabase<DB>(backend, { service: def.name, schema: config.database.schema ?? def.name, metrics });
    if (config.database.migrateOnStart) await migrateToLatest(database as Database<unknown>, def.migrations);
  }

  const clients: Record<string, ServiceClient> = {};
  for (const target of def.dependsOn) {
    const url = config.services[target];
    if (!url) throw new Error(`${def.name} calls ${target}: set services.${target} in its config`);
    clients[target] = new ServiceClient(target, url, { caller: def.name, auth: internalAuth });
  }

  const api = Fastify({
    loggerInstance: logger,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    // Every line of a request carries its trace id: from the caller's W3C traceparent, else the request id.
    childLoggerFactory: (logger, bindings, options, raw) => {
      const traceparent = raw.headers.traceparent;
      const traceId = typeof traceparent === 'string' ? traceparent.split('-')[1] : undefined;
      return logger.child({ ...bindings, traceId: traceId ?? bindings.requestId }, options);
    },
    bodyLimit: config.http.bodyLimitBytes,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    trustProxy: trustedProxies(config.http.trustProxy),
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const ajv = validatorCompilers();
  api.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? ajv.body : ajv.text).compile(schema as object),
  );
  api.setErrorHandler(errorHandler);
  api.setNotFoundHandler(notFoundHandler);
  api.decorateRequest('caller', undefined as unknown as Caller);

  // Every request runs inside its context, so SQL statements and outgoing calls know their route.
  api.addHook('onRequest', (request, _reply, done) => {
    if (def.public) stripInternalHeaders(request.headers);
    const traceparent = request.headers.traceparent;
    const deadline = Number(request.headers['livehouse-deadline']) || undefined;
    if (deadline !== undefined && deadline <= Date.now()) {
      done(new AppError('deadline_exceeded', 'the caller gave up on this request before it started'));
      return;
    }
    requestContext.run(
      {
        requestId: request.id,
        deadline,
        traceparent: typeof traceparent === 'string' ? traceparent : undefined,
        route: request.routeOptions.url ?? 'unmatched',
        queries: 0,
      },
      done,
    );
  });
  if (!def.public) {
    api.addHook('onRequest', async (request) => {
      request.caller = await internalAuth.verify(request.headers.authorization);
    });
  }
  let closing = false;
  api.addHook('onSend', async (_request, reply, payload) => {
    // While draining, answers close their connection: keep-alive sockets would otherwise hold
    // the server open until their idle timeout.
    if (closing) reply.header('connection', 'close');
    const ctx = requestContext.getStore();
    if (database && ctx) reply.header('livehouse-db-queries', String(ctx.queries));
    return payload;
  });
  api.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500) request.log.warn({ status: reply.statusCode, url: request.url }, 'server error');
  });

  // A service that forgot to declare `produces` but has an outbox still gets its events relayed.
  const produces = def.produces ?? (database && (await hasOutbox(database as Database<unknown>)) ? [] : undefined);
  const wantsEvents = produces !== undefined || Object.keys(def.consumes ?? {}).length > 0;
  let ownedBus: EventBus | undefined;
  if (wantsEvents && !options.bus && config.redis) ownedBus = new RedisEventBus({ url: config.redis.url });
  const bus = wantsEvents ? (options.bus ?? ownedBus) : undefined;
  if (wantsEvents && !bus) {
    // Relaying into a bus nobody else hears would mark events published and lose them: wait for Redis instead.
    logger.warn('no event bus: set redis.url; events stay in the outbox and nothing is consumed until then');
  }

  const ctx: ServiceContext<S, DB> = {
    name: def.name,
    config,
    get db(): Kysely<DB> {
      if (!database) throw new Error(`${def.name} has no database`);
      return database.db;
    },
    clients,
    internalAuth,
    metrics,
    redis: options.redis,
    log: logger,
    bus,
  };
  await api.register(async (scope) => def.routes(scope as unknown as ServiceApp, ctx));
  await api.ready();
  const background = def.background ? await def.background(ctx) : undefined;
  const events = bus
    ? await startServiceEvents({
        service: def.name,
        produces,
        consumes: def.consumes,
        db: database?.db,
        schema: database?.schema,
        notifier: database?.notifier,
        bus,
        ctx,
        log: logger,
        metrics,
        ...(options.relay && { relay: options.relay }),
      })
    : undefined;

  const adminApp = await admin({
    metrics,
    database: database as Database<unknown> | undefined,
    migrations: def.migrations,
    isClosing: () => closing,
    logger,
  });

  return {
    name: def.name,
    api: api as unknown as ServiceApp,
    admin: adminApp,
    database: database as Database<unknown> | undefined,
    metrics,
    async close() {
      if (closing) return;
      closing = true;
      await events?.stop();
      await background?.stop();
      await api.close();
      await adminApp.close();
      await Promise.all(Object.values(clients).map((c) => c.close()));
      await ownedBus?.close();
      // The backend owns the pool; a shared one is closed by whoever opened it.
      await ownedBackend?.close();
    },
  };
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
