import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingHttpHeaders } from 'node:http';

/** What a request carries through the async work it starts. */
export interface RequestContext {
  requestId: string;
  traceparent: string | undefined;
  route: string;
  /** Epoch ms by which the caller needs the answer (header `livehouse-deadline`), passed on to further calls. */
  deadline: number | undefined;
  /** SQL statements executed so far on behalf of this request. */
  queries: number;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** Headers services send each other (deadline, client address, …); only services may set them. */
const INTERNAL_HEADER = /^(?:x-)?livehouse-/;

/**
 * Removes every `livehouse-*` (and `x-livehouse-*`) header a client sent. A public service calls this before reading any of
 * them: a client-chosen deadline would otherwise make backends time out and open the breakers.
 */
export function stripInternalHeaders(headers: IncomingHttpHeaders) {
  for (const name of Object.keys(headers)) {
    if (INTERNAL_HEADER.test(name)) delete headers[name];
  }
}

// W3C Trace Context: version 00, a 32-hex trace id and a 16-hex parent id (neither all zeros), 2-hex flags.
const TRACEPARENT = /^00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * A client's `traceparent` when it is well-formed, else undefined (a new trace starts): a forged one is
 * never logged nor passed on.
 */
export function validTraceparent(value: unknown): { traceparent: string; traceId: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT.exec(value);
  return m ? { traceparent: value, traceId: m[1] as string } : undefined;
}
