import type { RouteTable } from '@livehouse/contracts';
import type { RouteOptions } from 'fastify';

/** What a service registered: method, path and schemas of each route (HEAD twins left out). */
export interface RegisteredRoute {
  method: string;
  url: string;
  schema: RouteOptions['schema'];
}

export function registeredRoutes(options: RouteOptions): RegisteredRoute[] {
  const methods = Array.isArray(options.method) ? options.method : [options.method];
  return methods.filter((m) => m !== 'HEAD').map((method) => ({ method, url: options.url, schema: options.schema }));
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Where a service's routes disagree with its contract's descriptors (the table its callers' typed clients
 * are made from): a missing route, or params, query, body or success answer of another shape. Empty when
 * they agree. Headers are not compared: a descriptor requires what the route checks itself (with its own
 * error code), so the route declares them optional.
 */
export function contractProblems(service: string, contract: RouteTable, routes: RegisteredRoute[]): string[] {
  const problems: string[] = [];
  for (const [name, d] of Object.entries(contract)) {
    const where = `${service}.${name} (${d.method} ${d.path})`;
    const found = routes.find((r) => r.method === d.method && r.url === d.path);
    if (!found) {
      problems.push(`${where}: no such route`);
      continue;
    }
    const schema = (found.schema ?? {}) as Record<string, unknown>;
    const response = (schema.response ?? {}) as Record<string, unknown>;
    const success = response['200'] ?? response['201'] ?? response['204'];
    if (!same(schema.params, d.params)) problems.push(`${where}: its params differ`);
    if (!same(schema.querystring, d.query)) problems.push(`${where}: its query differs`);
    if (!same(schema.body, d.body)) problems.push(`${where}: its body differs`);
    // A route without a declared answer (204, no body) matches a descriptor whose answer is void.
    const voidAnswer = (d.response as { type?: string }).type === 'void';
    if (!(success === undefined && voidAnswer) && !same(success, d.response)) {
      problems.push(`${where}: its answer differs`);
    }
  }
  return problems;
}
