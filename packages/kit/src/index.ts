export { clientAddress, type TrustProxy, trustedProxies } from './client-address.ts';
export { type BaseConfig, ConfigError, loadConfigFile, parseConfig, readSecrets, type Secrets } from './config.ts';
export { type RequestContext, requestContext } from './context.ts';
export {
  createDatabase,
  type Database,
  type DatabaseBackend,
  isPostgresUrl,
  openBackend,
  pgErrorCode,
} from './db/database.ts';
export { type Migrations, migrateToLatest, pendingMigrations } from './db/migrate.ts';
export { type AnyStatement, type Statement, statement, statements } from './db/statement.ts';
export { AppError, type ErrorDetail, forbidden, notFound, toAppError } from './errors.ts';
export {
  BusClosedError,
  type EventBus,
  type EventHandler,
  type EventLog,
  partitionOf,
  type SubscribeOptions,
  type Subscription,
} from './events/bus.ts';
export {
  type ConsumeHandler,
  type ConsumeHandlers,
  createProcessedEventsTable,
  idempotentConsumer,
  type ProcessedEventsDatabase,
  type ProcessedEventsTable,
} from './events/consumer.ts';
export { InProcessEventBus } from './events/memory-bus.ts';
export { RedisEventBus, type RedisEventBusOptions } from './events/redis-bus.ts';
export { OutboxRelay, type OutboxRelayOptions } from './events/relay.ts';
export { ifNoneMatch, opaqueTag } from './http-cache.ts';
export { type CallOptions, type CallResult, ServiceClient } from './http-client.ts';
export { derivedIdempotencyKey, idempotencyKey } from './idempotency.ts';
export { type Caller, InternalAuth } from './internal-auth.ts';
export { loggerOptions } from './logger.ts';
export { createMetrics, type Metrics } from './metrics.ts';
export { createOutboxTable, type OutboxDatabase, type OutboxTable, writeEvent } from './outbox.ts';
export { type CursorKey, type CursorPart, decodeCursor, encodeCursor, toPage } from './pagination.ts';
export {
  type AnyServiceDefinition,
  generateDevSecrets,
  type Platform,
  type PlatformOptions,
  type RunningService,
  startOrder,
  startPlatform,
} from './platform.ts';
export { MemoryRateLimiter, type RateLimit, type RateLimiter, RedisRateLimiter, rateLimited } from './rate-limit.ts';
export {
  type BackendMetrics,
  createBackendMetrics,
  defaultResilience,
  type Outcome,
  type ResilienceOptions,
  ResilientBackend,
  type ResilientCallOptions,
} from './resilience.ts';
export { closeOnSignal, type Listening, listen } from './run.ts';
export {
  type BuildOptions,
  type BuiltService,
  buildService,
  defineService,
  depsOf,
  requireSelfOrAdmin,
  requireService,
  requireUser,
  type ServiceApp,
  type ServiceConfig,
  type ServiceContext,
  type ServiceDefinition,
  type SetupContext,
} from './service.ts';
export {
  type Clients,
  clientsFor,
  type RouteCall,
  type RouteInput,
  type Transport,
  type TypedClient,
  typedClient,
} from './typed-client.ts';
