import { type Apis, apis, type HttpMethod, type RouteDescriptor, type RouteTable } from '@livehouse/contracts';
import type { Static, TSchema } from 'typebox';
import type { CallOptions, CallResult, ServiceClient } from './http-client.ts';

/**
 * What a typed client calls through: the kit's `ServiceClient`, or the BFF's `ResilientBackend` over one
 * (whose options add a deadline, and whose GETs are coalesced and retried).
 */
export interface Transport<O extends CallOptions = CallOptions> {
  call<T>(method: HttpMethod, path: string, options?: O): Promise<CallResult<T>>;
  get<T>(path: string, options?: O): Promise<T>;
}

type OptionsOf<C> = C extends Transport<infer O> ? O : never;

/** A part the route declares is required, unless nothing in it is (a query of optional fields). */
type Part<D, K extends 'params' | 'query' | 'body'> = D extends { [P in K]: infer T extends TSchema }
  ? object extends Static<T>
    ? { [P in K]?: Static<T> }
    : { [P in K]: Static<T> }
  : { [P in K]?: never };

/** Headers the route requires are required; any others (a forwarded client address) may go along. */
type HeadersPart<D> = D extends { headers: infer H extends TSchema }
  ? { headers: Static<H> & Record<string, string> }
  : { headers?: Record<string, string> };

/** A route's arguments: its params, query, body and headers as its schemas say, plus the call's own options. */
export type RouteInput<D extends RouteDescriptor, O extends CallOptions = CallOptions> = Part<D, 'params'> &
  Part<D, 'query'> &
  Part<D, 'body'> &
  HeadersPart<D> &
  Omit<O, 'query' | 'body' | 'headers'>;

/** No argument is needed when nothing in it is required (`clients.stamp.catalog()`). */
type Args<D extends RouteDescriptor, O extends CallOptions> =
  object extends RouteInput<D, O> ? [input?: RouteInput<D, O>] : [input: RouteInput<D, O>];

/** A route's call: it answers the body; `.result` also gives the status and headers (e.g. Idempotent-Replayed). */
export interface RouteCall<D extends RouteDescriptor, O extends CallOptions = CallOptions> {
  (...args: Args<D, O>): Promise<Static<D['response']>>;
  result(...args: Args<D, O>): Promise<CallResult<Static<D['response']>>>;
}

/** A service's client: its transport's raw `call`/`get` and one typed method per route of its contract. */
export type TypedClient<R extends RouteTable, C extends Transport = ServiceClient> = C & {
  readonly [K in keyof R]: RouteCall<R[K], OptionsOf<C>>;
};

/** The clients a service's `dependsOn` gives it: typed where the callee has a contract, raw otherwise. */
export type Clients = { readonly [K in keyof Apis]: TypedClient<Apis[K]> } & {
  readonly [name: string]: ServiceClient;
};

function pathOf(template: string, params: Record<string, unknown> | undefined) {
  return template.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    const value = params?.[name];
    if (value === undefined) throw new Error(`${template}: missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}

type AnyInput = { params?: Record<string, unknown> } & CallOptions;

/** Adds a method per route of `routes` to a transport. GETs go through its `get` (the BFF coalesces those). */
export function typedClient<R extends RouteTable, C extends Transport>(client: C, routes: R): TypedClient<R, C> {
  const transport = client as Transport;
  const methods = Object.fromEntries(
    Object.entries(routes).map(([name, d]) => {
      const result = ({ params, ...options }: AnyInput = {}) =>
        transport.call(d.method, pathOf(d.path, params), options);
      const call = async (input: AnyInput = {}) => {
        if (d.method !== 'GET') return (await result(input)).body;
        const { params, ...options } = input;
        return transport.get(pathOf(d.path, params), options);
      };
      return [name, Object.assign(call, { result })];
    }),
  );
  return Object.assign(client, methods) as TypedClient<R, C>;
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
