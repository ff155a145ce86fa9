import type { Duplex } from 'node:stream';
import { type ErrorCode, errorStatus, TEXT_PATTERN } from '@livehouse/contracts';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** The one error class of livehouse: a code from the contracts table, a message for humans, optional details. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetail[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorStatus[code];
    this.details = options.details;
    this.headers = options.headers;
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} was not found`);
export const forbidden = (why: string) => new AppError('forbidden', why);

/** Maps Fastify's own errors (parsing, validation, size limits) into the livehouse vocabulary. */
function fromFastifyError(err: FastifyError): AppError | undefined {
  if (err.validation) {
    const details = err.validation.map((v) => ({
      path: `${err.validationContext ?? 'body'}${v.instancePath || ''}`,
      message:
        v.keyword === 'additionalProperties'
          ? `unknown field '${String((v.params as { additionalProperty?: string }).additionalProperty)}'`
          : v.keyword === 'pattern' && (v.params as { pattern?: string }).pattern === TEXT_PATTERN
            ? 'must not contain NUL (\\u0000) or unpaired surrogate characters'
            : (v.message ?? 'is invalid'),
    }));
    const first = details[0];
    return new AppError('validation_failed', first ? `${first.path} ${first.message}` : 'invalid request', {
      details,
    });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'send the body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('bad_request', 'the Content-Length header does not match the body');
  }
  if (err instanceof SyntaxError) return new AppError('invalid_json', 'the request body is not valid JSON');
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new AppError('bad_request', err.message);
  }
  return undefined;
}

/**
 * A database "data exception" (SQLSTATE class 22: a NUL in text, a bad encoding, a number out of range)
 * is caused by the value a caller sent, not by the database: 400, never a 500 that opens breakers.
 * Validation rejects such values first (contracts' `Text`); this is the net under it.
 */
function fromDatabaseError(err: unknown): AppError | undefined {
  const e = err as { code?: unknown; severity?: unknown } | undefined;
  if (typeof e?.code !== 'string' || typeof e.severity !== 'string' || !/^22[0-9A-Z]{3}$/.test(e.code)) return;
  return new AppError('validation_failed', 'a value in the request cannot be stored (for example a NUL character)');
}

/**
 * The database cannot be reached, or ended the session (a failover, a restart, a cut network): the service is
 * unavailable for a moment, which is a 503 a caller may retry, not a 500 that says we have a bug.
 * SQLSTATE class 08 (connection exception) and 57P01–57P03 (shutdown, crash, cannot connect now), the socket
 * errors pg passes on, and pg's own messages for a connection that ends or never comes.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);
const UNREACHABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

function databaseUnreachable(err: unknown): AppError | undefined {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const unreachable =
    /^08[0-9A-Z]{3}$/.test(code) ||
    /^57P0[123]$/.test(code) ||
    UNREACHABLE_CODES.has(code) ||
    (typeof e?.message === 'string' && UNREACHABLE_MESSAGE.test(e.message));
  if (!unreachable) return;
  return new AppError('service_unavailable', 'the database is unreachable for the moment; try again shortly', {
    headers: { 'retry-after': '1' },
  });
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fromDatabase = fromDatabaseError(err) ?? databaseUnreachable(err);
  if (fromDatabase) return fromDatabase;
  return fromFastifyError(err as FastifyError) ?? new AppError('internal_error', 'something went wrong on our side');
}

export function sendError(request: FastifyRequest, reply: FastifyReply, err: AppError) {
  if (err.headers) reply.headers(err.headers);
  return reply.code(err.status).send({
    error: {
      code: err.code,
      message: err.message,
      requestId: request.id,
      ...(err.details && { details: err.details }),
    },
  });
}

/** Fastify error handler: 4xx carry their message, 5xx hide everything but the request id. */
export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  const appError = toAppError(error);
  if (appError.status >= 500) {
    request.log.error({ err: error }, 'request failed');
  } else {
    request.log.info({ code: appError.code }, appError.message);
  }
  return sendError(request, reply, appError);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply) {
  return sendError(
    request,
    reply,
    new AppError('route_not_found', `no route for ${request.method} ${request.url.split('?')[0]}`),
  );
}

/**
 * Errors Node's HTTP parser meets before Fastify has a request (oversized head, malformed request): the
 * answer is in the error envelope too. Node counts the URL in the head, so a long URL is a 431 as well.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex) {
  if (socket.destroyed || !socket.writable) return socket.destroy();
  const large = err.code === 'HPE_HEADER_OVERFLOW';
  const error = large
    ? new AppError('headers_too_large', 'the request line and headers are too large: keep them under 16 KiB')
    : new AppError('bad_request', 'the request is not valid HTTP');
  const body = JSON.stringify({ error: { code: error.code, message: error.message, requestId: '' } });
  const reason = large ? 'Request Header Fields Too Large' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${error.status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
