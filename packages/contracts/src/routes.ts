import type { TSchema } from 'typebox';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * One route of a service's internal API, as its callers see it: the kit turns a service's table of these
 * into a typed client (`clients.point.spend({ body })`), so a path or a body shape is written once, here.
 */
export interface RouteDescriptor {
  method: HttpMethod;
  /** Fastify-style path: `:name` segments are filled from `params`. */
  path: string;
  params?: TSchema;
  query?: TSchema;
  /** Request headers the route requires (e.g. Idempotency-Key): the call must pass them. */
  headers?: TSchema;
  body?: TSchema;
  /** The success answer's schema. */
  response: TSchema;
}

/** Keeps a descriptor's literal types (method, path, schemas) for the generated client. */
export const route = <const D extends RouteDescriptor>(descriptor: D) => descriptor;

export type RouteTable = Record<string, RouteDescriptor>;
