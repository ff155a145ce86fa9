import fp from 'fastify-plugin';
import { ServiceClient } from '../http-client.ts';
import { type Clients, clientsFor } from '../typed-client.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** A client per service named in `dependsOn`, at its URL under `services:`; typed where a contract exists. */
    clients: Clients;
  }
}

export interface ClientsPluginOptions {
  caller: string;
  dependsOn: readonly string[];
  urls: Record<string, string>;
}

/** HTTP clients of the services this one calls; their pools close with the service. */
export const clientsPlugin = fp<ClientsPluginOptions>(
  async (app, o) => {
    const clients: Record<string, ServiceClient> = {};
    for (const target of o.dependsOn) {
      const url = o.urls[target];
      if (!url) throw new Error(`${o.caller} calls ${target}: set services.${target} in its config`);
      clients[target] = new ServiceClient(target, url, { caller: o.caller, auth: app.internalAuth });
    }
    app.decorate('clients', clientsFor(o.caller, clients));
    app.addHook('onClose', async () => {
      await Promise.all(Object.values(clients).map((c) => c.close()));
    });
  },
  { name: 'livehouse-clients', fastify: '5.x', dependencies: ['livehouse-internal-auth'] },
);
