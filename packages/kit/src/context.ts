import { AsyncLocalStorage } from 'node:async_hooks';

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
