import { createServer, type Server } from 'node:http';
import type { contents, stamp, user } from '@livehouse/contracts';
import { InternalAuth } from '@livehouse/kit';
import { Pool } from 'undici';

/**
 * The baseline `npm run bench:bff` compares the BFF with: a minimal aggregator that makes the same
 * backend calls as the BFF's anonymous app home view — live now, featured and the stamp-catalog
 * version in parallel, then one batch lookup of the streamers — with plain Promise.all over undici
 * `request()` on a Pool per backend (as many connections as the BFF's), and nothing else: no
 * timeouts beyond undici's defaults, no breaker, no retry, no coalescing, no cache.
 */
export function startBaseline(options: { port: number; services: Record<string, string>; internalKey: string }) {
  const auth = new InternalAuth(options.internalKey);
  const pools = new Map(
    Object.entries(options.services).map(([name, url]) => [name, new Pool(url, { connections: 64 })]),
  );

  async function get<T>(backend: string, path: string): Promise<T> {
    const token = await auth.sign({ service: 'bff' });
    const res = await pools
      .get(backend)!
      .request({ method: 'GET', path, headers: { authorization: `Bearer ${token}` } });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw new Error(`${backend} ${path}: ${res.statusCode}`);
    return JSON.parse(text) as T;
  }

  const card = (s: contents.Stream, byId: Map<string, user.Profile>) => ({
    id: s.id,
    title: s.title,
    viewerCount: s.viewerCount,
    thumbnailUrl: s.channel.imageUrl,
    category: s.category?.slug ?? null,
    streamer: byId.get(s.ownerId)?.handle ?? null,
  });

  async function home() {
    const [live, featured, version] = await Promise.all([
      get<contents.StreamPage>('contents', '/streams/live?limit=50'),
      get<contents.StreamPage>('contents', '/streams/featured?limit=10'),
      get<{ version: string }>('stamp', '/catalog/version'),
    ]);
    const ids = [...new Set([...live.items, ...featured.items].map((s) => s.ownerId))].slice(0, 100);
    const profiles = ids.length ? (await get<user.ProfileList>('user', `/users?ids=${ids.join(',')}`)).items : [];
    const byId = new Map(profiles.map((p) => [p.id, p]));
    return {
      liveNow: live.items.slice(0, 20).map((s) => card(s, byId)),
      followingLive: [],
      featured: featured.items.map((s) => card(s, byId)),
      catalogVersion: (version as Pick<stamp.Catalog, 'version'>).version,
      balance: null,
    };
  }

  const server: Server = createServer((req, res) => {
    if (req.url !== '/app/v1/home') {
      res.writeHead(req.url === '/healthz' ? 200 : 404).end();
      return;
    }
    home().then(
      (body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)),
      (err: unknown) =>
        res
          .writeHead(502, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { code: 'upstream_error', message: String(err) } })),
    );
  });
  server.keepAliveTimeout = 65_000;
  return new Promise<{ url: string; close(): Promise<void> }>((ok) =>
    server.listen(options.port, '127.0.0.1', () =>
      ok({
        url: `http://127.0.0.1:${options.port}`,
        async close() {
          server.closeAllConnections();
          await new Promise((r) => server.close(r));
          await Promise.all([...pools.values()].map((p) => p.destroy()));
        },
      }),
    ),
  );
}

// As its own process: BASELINE_PORT, BASELINE_SERVICES (JSON: name → URL), LIVEHOUSE_INTERNAL_KEY.
if (import.meta.main) {
  await startBaseline({
    port: Number(process.env.BASELINE_PORT),
    services: JSON.parse(process.env.BASELINE_SERVICES ?? '{}'),
    internalKey: process.env.LIVEHOUSE_INTERNAL_KEY ?? '',
  });
}
