import { type Apis, apis, type RouteDescriptor, type RouteTable } from '@livehouse/contracts';
import type { Static, TSchema } from 'typebox';
import type { CallOptions, ServiceClient } from './http-client.ts';

type Part<D, K extends 'params' | 'query' | 'body'> = D extends { [P in K]: infer T extends TSchema }
  ? { [P in K]: Static<T> }
  : { [P in K]?: never };

/** A route's arguments: its params, query and body as their schemas say, plus the call's user, headers, timeout. */
export type RouteInput<D extends RouteDescriptor> = Part<D, 'params'> &
  Part<D, 'query'> &
  Part<D, 'body'> &
  Omit<CallOptions, 'query' | 'body'>;

export type RouteCall<D extends RouteDescriptor> = (input: RouteInput<D>) => Promise<Static<D['response']>>;

/** A service's client: the raw `call`/`get` of `ServiceClient` and one typed method per route of its contract. */
export type TypedClient<R extends RouteTable> = ServiceClient & { readonly [K in keyof R]: RouteCall<R[K]> };

/** The clients a service's `dependsOn` gives it: typed where the callee has a contract, raw otherwise. */
export type Clients = { readonly [K in keyof Apis]: TypedClient<Apis[K]> } & { readonly [name: string]: ServiceClient };

function pathOf(template: string, params: Record<string, unknown> | undefined) {
  return template.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`${template}: missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}

/** Adds a method per route of `routes` to a ServiceClient. */
export function typedClient<R extends RouteTable>(client: ServiceClient, routes: R): TypedClient<R> {
  const methods = Object.fromEntries(
    Object.entries(routes).map(([name, d]) => [
      name,
      async (input: { params?: Record<string, unknown>; query?: CallOptions['query']; body?: unknown }) => {
        const { params, ...options } = input;
        return (await client.call(d.method, pathOf(d.path, params), options)).body;
      },
    ]),
  );
  return Object.assign(client, methods) as TypedClient<R>;
}

/**
 * The clients of `dependsOn`, typed by the callees' contracts. A contract's name that is not in `dependsOn`
 * throws when touched (declare the dependency, so that config and network policy know of it).
 */
export function clientsFor(caller: string, made: Record<string, ServiceClient>): Clients {
  const clients: Record<string, ServiceClient> = {};
  for (const name of Object.keys(apis)) {
    Object.defineProperty(clients, name, {
      enumerable: false,
      configurable: true,
      get() {
        throw new Error(`${caller} calls ${name} but does not name it in dependsOn`);
      },
    });
  }
  for (const [name, client] of Object.entries(made)) {
    const routes = (apis as Record<string, RouteTable>)[name];
    Object.defineProperty(clients, name, {
      enumerable: true,
      value: routes ? typedClient(client, routes) : client,
    });
  }
  return clients as Clients;
}
