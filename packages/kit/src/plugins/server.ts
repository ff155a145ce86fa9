import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import { trustedProxies } from '../client-address.ts';
import type { BaseConfig } from '../config.ts';
import { validTraceparent } from '../context.ts';
import { clientErrorHandler, errorHandler, notFoundHandler } from '../errors.ts';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function validatorCompilers() {
  // Bodies are JSON: no type coercion, no silent removal of unknown fields. Paths and query
  // strings are text: numbers and booleans in them are coerced.
  const body = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false });
  const text = new Ajv({ coerceTypes: 'array', removeAdditional: false, useDefaults: true, strict: false });
  addFormats(body);
  addFormats(text);
  return { body, text };
}

type LogArgs = Parameters<FastifyBaseLogger['info']>;

/**
 * A request's logger, made the first time the request logs: most requests never do, and a pino
 * child (its bindings serialized) per request was ~2% of a spend's CPU.
 */
class LazyLogger implements FastifyBaseLogger {
  readonly #make: () => FastifyBaseLogger;
  #logger: FastifyBaseLogger | undefined;
  constructor(make: () => FastifyBaseLogger) {
    this.#make = make;
  }
  get #real(): FastifyBaseLogger {
    this.#logger ??= this.#make();
    return this.#logger;
  }
  get level() {
    return this.#real.level;
  }
  set level(level: string) {
    this.#real.level = level;
  }
  fatal(...args: LogArgs) {
    this.#real.fatal(...args);
  }
  error(...args: LogArgs) {
    this.#real.error(...args);
  }
  warn(...args: LogArgs) {
    this.#real.warn(...args);
  }
  info(...args: LogArgs) {
    this.#real.info(...args);
  }
  debug(...args: LogArgs) {
    this.#real.debug(...args);
  }
  trace(...args: LogArgs) {
    this.#real.trace(...args);
  }
  silent(...args: LogArgs) {
    this.#real.silent(...args);
  }
  child(...args: Parameters<FastifyBaseLogger['child']>) {
    return this.#real.child(...args);
  }
}

/** The API's Fastify instance: request ids, trace-aware child loggers, server timeouts, validation, errors. */
export function createServer(config: BaseConfig, logger: FastifyBaseLogger) {
  const api = Fastify({
    loggerInstance: logger,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    // Every line of a request carries its trace id: from the caller's W3C traceparent, else the request id.
    childLoggerFactory: (logger, bindings, options, raw) =>
      new LazyLogger(() => {
        const traceId = validTraceparent(raw.headers.traceparent)?.traceId;
        return logger.child({ ...bindings, traceId: traceId ?? bindings.requestId }, options);
      }),
    bodyLimit: config.http.bodyLimitBytes,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    trustProxy: trustedProxies(config.http.trustProxy),
    clientErrorHandler,
    routerOptions: { ignoreTrailingSlash: true },
    // No limit per plugin (Fastify's is 10 s): the database plugin migrates, which takes longer on a loaded
    // machine or with a long migration, and the process then died at boot. The startup probe bounds boot instead.
    pluginTimeout: 0,
  }).withTypeProvider<TypeBoxTypeProvider>();
  const ajv = validatorCompilers();
  api.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? ajv.body : ajv.text).compile(schema as object),
  );
  api.setErrorHandler(errorHandler);
  api.setNotFoundHandler(notFoundHandler);
  return api;
}
