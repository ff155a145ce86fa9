import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { BuiltService } from './service.ts';

export interface Listening {
  apiUrl: string;
  adminUrl: string;
}

function urlOf(address: AddressInfo | string | null) {
  if (!address || typeof address === 'string') return String(address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
}

export async function listen(service: BuiltService, http: { host: string; port: number; adminPort: number }) {
  await service.api.listen({ host: http.host, port: http.port });
  await service.admin.listen({ host: http.host, port: http.adminPort });
  return {
    apiUrl: urlOf(service.api.server.address()),
    adminUrl: urlOf(service.admin.server.address()),
  } satisfies Listening;
}

/**
 * SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close pools, exit 0.
 * If draining takes longer than `timeoutMs`, exit 1 so the orchestrator knows.
 */
export function closeOnSignal(close: () => Promise<void>, options: { timeoutMs: number; log: FastifyBaseLogger }) {
  let started = false;
  const handler = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    options.log.info({ signal }, 'shutting down: draining in-flight requests');
    const timer = setTimeout(() => {
      options.log.error({ timeoutMs: options.timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, options.timeoutMs);
    timer.unref();
    close().then(
      () => {
        options.log.info('shut down cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        options.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
