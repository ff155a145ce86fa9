/**
 * The public endpoints the mix calls, and the backends each one cannot answer without. Views
 * list only their *required* sections' backends (services/bff/src/views/views.ts): with any other
 * backend down, a view must still answer 200 with that section in `meta.degraded`. Commands need
 * every backend they pass through.
 */
export interface Endpoint {
  kind: 'view' | 'command';
  needs: string[];
}

const view = (needs: string[]): Endpoint => ({ kind: 'view', needs });
const command = (needs: string[]): Endpoint => ({ kind: 'command', needs });

export const ENDPOINTS: Record<string, Endpoint> = {
  'GET /app/v1/home': view([]),
  'GET /web/v1/home': view([]),
  'GET /app/v1/streams/:id': view(['contents']),
  'GET /web/v1/streams/:id': view(['contents']),
  'GET /app/v1/channels/:id': view(['contents']),
  'GET /web/v1/channels/:id': view(['contents']),
  'GET /app/v1/users/:id': view(['user']),
  'GET /web/v1/users/:id': view(['user']),
  'GET /stamps/catalog': command(['stamp']),
  'POST /auth/login': command(['auth']),
  'PUT /me/following/:userId': command(['user']),
  'POST /me/points/checkouts': command(['payment']),
  // The provider's page answers once its webhook went through the BFF and payment into point.
  'pay at the provider (webhook)': command(['payment', 'point']),
  // A paid stamp spends points; every send checks that the stream is live.
  'POST /streams/:id/stamps': command(['stamp', 'contents', 'point']),
  // Chat rooms (WebSocket): opening one checks the stream with contents.
  'WS join room': command(['chat', 'contents']),
  'WS send message': command(['chat']),
};

/** The view name in the BFF's metrics and `meta.degraded` for a view endpoint. */
export function viewOf(endpoint: string): string | undefined {
  const m = /^GET \/(?:app|web)\/v1\/(home|streams|channels|users)/.exec(endpoint);
  if (!m) return undefined;
  return { home: 'home', streams: 'stream', channels: 'channel', users: 'profile' }[m[1]!];
}

/**
 * Is a failure of this endpoint explained by the killed backend? Commands that pass through it, and
 * views that require it, may fail; a view that only uses it for optional sections must not.
 */
export function explainedByKill(endpoint: string, killed: string | undefined): boolean {
  if (!killed) return false;
  return ENDPOINTS[endpoint]?.needs.includes(killed) ?? false;
}
