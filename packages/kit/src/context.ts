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
