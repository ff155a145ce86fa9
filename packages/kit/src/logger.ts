import { type LoggerOptions, stdSerializers } from 'pino';

// What database drivers attach to an error: the SQL, its bound values, rows quoted in `detail`. Values may be
// secrets or personal data: a log keeps the error's code, severity and constraint, never these.
const DATABASE_VALUES = ['query', 'params', 'parameters', 'detail', 'where', 'internalQuery', 'hint'];

/** pino's error serializer without the values a database error carries (also in its causes). */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  for (const key of DATABASE_VALUES) delete out[key];
  // A database's message quotes the offending value ('invalid input syntax for type integer: "…"').
  if (typeof out.code === 'string' && typeof out.severity === 'string') {
    const message = `database error ${out.code}${typeof out.routine === 'string' ? ` (${out.routine})` : ''}`;
    out.stack = typeof out.stack === 'string' ? out.stack.replace(err.message, message) : undefined;
    out.message = message;
  }
  if (err.cause instanceof Error) out.cause = serializeError(err.cause);
  return out;
}

/** One JSON object per line on stdout: service, level (as a word), time, requestId, traceId, msg. */
export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    formatters: { level: (label) => ({ level: label }) },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    serializers: { err: serializeError },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.refreshToken', '*.accessToken'],
      censor: '[redacted]',
    },
  };
}
