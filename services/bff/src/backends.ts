import { type Apis, apis } from '@livehouse/contracts';
import { type Clients, type ResilientBackend, type ServiceClient, type TypedClient, typedClient } from '@livehouse/kit';

/** A backend as the BFF calls it: resilient (breaker, bulkhead, retried GETs) and typed by its contract. */
export type Backend<K extends keyof Apis> = TypedClient<Apis[K], ResilientBackend>;

/** Every backend of the BFF; the edge only when a media plane is configured. */
export type Backends = { readonly [K in Exclude<keyof Apis, 'edge'>]: Backend<K> } & {
  readonly edge: Backend<'edge'> | undefined;
};

/** Wraps each contract client of `clients` (and the edge's, when there is one) with `resilient`. */
export function backendsOf(
  clients: Clients,
  edge: ServiceClient | undefined,
  resilient: (client: ServiceClient) => ResilientBackend,
): Backends {
  const typed = <K extends keyof Apis>(name: K, client: ServiceClient) => typedClient(resilient(client), apis[name]);
  return {
    auth: typed('auth', clients.auth),
    contents: typed('contents', clients.contents),
    payment: typed('payment', clients.payment),
    point: typed('point', clients.point),
    stamp: typed('stamp', clients.stamp),
    timeline: typed('timeline', clients.timeline),
    user: typed('user', clients.user),
    edge: edge && typed('edge', edge),
  };
}
