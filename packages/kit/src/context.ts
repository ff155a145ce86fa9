import { AsyncLocalStorage } from 'node:async_hooks';

/** What a request carries through the async work it starts. */
export interface RequestContext {
  requestId: string;
  traceparent: string | undefined;
  route: string;
  /** SQL statements executed so far on behalf of this request. */
  queries: number;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();
