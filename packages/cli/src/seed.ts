import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AppError, InternalAuth, ServiceClient } from '@livehouse/kit';
import { services } from './services.ts';

export const DEMO_PASSWORD = 'livehouse-demo';
const USERS = 50;
const STREAMERS = 10;
const CATEGORIES = [
  ['speedrun', 'Speedrun'],
  ['rpg', 'RPG'],
  ['fps', 'FPS'],
  ['puzzle', 'Puzzle'],
  ['retro', 'Retro'],
  ['strategy', 'Strategy'],
] as const;

type Client = (name: string) => ServiceClient;
type Actor = { id: string; roles: ('viewer' | 'streamer' | 'admin')[] };

/**
 * Demo data through the services' own APIs (so it obeys every rule they enforce), acting as an
 * admin with the internal key. Idempotent: run it twice, get the same data.
 */
export async function seed(urls: Map<string, string>, secrets: Record<string, string>) {
  const auth = new InternalAuth(secrets.LIVEHOUSE_INTERNAL_KEY ?? '');
  const clients = new Map(
    [...urls].map(([name, url]) => [name, new ServiceClient(name, url, { caller: 'seed', auth })]),
  );
  const client = (name: string) => {
    const c = clients.get(name);
    if (!c) throw new Error(`seeding needs the ${name} service`);
    return c;
  };
  const admin = { id: await ensureAccount(client, 'admin'), roles: ['admin' as const] };
  await client('auth').call('PUT', `/accounts/${admin.id}/roles/admin`, { user: admin });
  try {
    const ids: string[] = [];
    for (let i = 1; i <= USERS; i++) ids.push(await ensureAccount(client, `viewer_${String(i).padStart(2, '0')}`));
    // Everyone follows the next five, so every list has a few pages' worth with small limits.
    let follows = 0;
    for (let i = 0; i < ids.length; i++) {
      for (let k = 1; k <= 5; k++) {
        const me = ids[i]!;
        const target = ids[(i + k) % ids.length]!;
        await client('user').call('PUT', `/users/${me}/following/${target}`, { user: { id: me, roles: ['viewer'] } });
        follows++;
      }
    }
    if (!clients.has('contents')) return `${ids.length} users (password '${DEMO_PASSWORD}'), ${follows} follows`;

    const categories = [];
    for (const [slug, name] of CATEGORIES) categories.push(await ensureCategory(client, admin, slug, name));
    let live = 0;
    let archives = 0;
    for (let i = 1; i <= STREAMERS; i++) {
      const handle = `streamer_${String(i).padStart(2, '0')}`;
      const id = await ensureAccount(client, handle);
      await client('auth').call('PUT', `/accounts/${id}/roles/streamer`, { user: admin });
      const streamer = { id, roles: ['viewer' as const, 'streamer' as const] };
      const category = categories[i % categories.length]!;
      const channel = await ensureChannel(client, streamer, `${handle}'s ${category.name} channel`, category.id);
      if (i <= 3 && !channel.featured) {
        await client('contents').call('PATCH', `/channels/${channel.id}`, { body: { featured: true }, user: admin });
      }
      // Viewers follow streamers, so home's "following live" has something to show.
      for (let v = 0; v < ids.length; v += i) {
        await client('user').call('PUT', `/users/${ids[v]}/following/${id}`, {
          user: { id: ids[v]!, roles: ['viewer'] },
        });
      }
      if (i <= 6) {
        const streamId =
          channel.liveStreamId ?? (await goLive(client, streamer, channel.id, `${category.name} marathon #${i}`));
        await client('contents').call('PUT', `/streams/${streamId}/viewers`, { body: { count: 1000 - i * 100 } });
        live++;
      } else {
        const past = await client('contents').get<{ items: unknown[] }>(`/channels/${channel.id}/archives`);
        if (past.items.length === 0) {
          const streamId = await goLive(client, streamer, channel.id, `Yesterday's ${category.name} session`);
          await client('contents').call('POST', `/streams/${streamId}/end`, { user: streamer });
        }
        archives++;
      }
    }
    let wallets = 0;
    if (clients.has('payment')) {
      // Through the verified path: a checkout per pack, paid at the embedded provider, credited by its signed webhook.
      for (const [i, id] of ids.entries()) {
        for (const n of [1, 2]) {
          const key = `seed-checkout-${i + 1}-${n}`;
          const viewer = { id, roles: ['viewer' as const] };
          const checkout = await client('payment').call<{ status: string; url: string | null }>('POST', '/checkouts', {
            body: { packId: 'p500' },
            headers: { 'idempotency-key': key },
            user: viewer,
          });
          if (checkout.body.status === 'open' && checkout.body.url) await payLocally(checkout.body.url);
        }
        wallets++;
      }
    }
    return [
      `${ids.length} viewers and ${STREAMERS} streamers (password '${DEMO_PASSWORD}'), admin 'admin'`,
      `${follows} follows among viewers, ${categories.length} categories, ${live} live streams, ${archives} archives`,
      `${wallets} wallets with 1000 points`,
    ].join('; ');
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
  }
}

/** Pays a checkout at the embedded provider (as a buyer's click on its page would). */
async function payLocally(url: string) {
  const res = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(30_000) });
  const body = (await res.json()) as { webhook?: { status: number } };
  if (!res.ok || body.webhook?.status !== 200) {
    throw new Error(`the local payment provider could not complete ${url}: ${res.status} ${JSON.stringify(body)}`);
  }
}

async function ensureAccount(client: Client, handle: string) {
  try {
    const res = await client('auth').call<{ account: { id: string } }>('POST', '/accounts', {
      body: { handle, email: `${handle}@demo.livehouse.dev`, password: DEMO_PASSWORD },
    });
    return res.body.account.id;
  } catch (err) {
    if (!(err instanceof AppError) || (err.code !== 'handle_taken' && err.code !== 'email_taken')) throw err;
    return (await client('user').get<{ id: string }>(`/users/by-handle/${handle}`)).id;
  }
}

const conflict = (err: unknown) => err instanceof AppError && err.status === 409;

async function ensureCategory(client: Client, admin: Actor, slug: string, name: string) {
  try {
    return (
      await client('contents').call<{ id: string; name: string }>('POST', '/categories', {
        body: { slug, name },
        user: admin,
      })
    ).body;
  } catch (err) {
    if (!conflict(err)) throw err;
    return client('contents').get<{ id: string; name: string }>(`/categories/${slug}`);
  }
}

async function ensureChannel(client: Client, streamer: Actor, title: string, categoryId: string) {
  type Channel = { id: string; featured: boolean; liveStreamId: string | null };
  try {
    const res = await client('contents').call<{ channel: Channel }>('POST', '/channels', {
      body: { title, categoryId },
      user: streamer,
    });
    return res.body.channel;
  } catch (err) {
    if (!conflict(err)) throw err;
    return client('contents').get<Channel>(`/channels/by-owner/${streamer.id}`);
  }
}

async function goLive(client: Client, streamer: Actor, channelId: string, title: string) {
  const created = await client('contents').call<{ id: string }>('POST', `/channels/${channelId}/streams`, {
    body: { title },
    user: streamer,
  });
  await client('contents').call('POST', `/streams/${created.body.id}/start`, { user: streamer });
  return created.body.id;
}

/** `livehouse seed`: against a running `livehouse up` that uses the same data folder. */
export async function seedCommand(dataDir: string) {
  const file = join(resolve(dataDir), 'secrets.json');
  const secrets = JSON.parse(
    await readFile(file, 'utf8').catch(() => {
      throw new Error(`no ${file}: start the platform first with 'npm start'`);
    }),
  ) as Record<string, string>;
  const urls = new Map(Object.entries(services).map(([name, s]) => [name, `http://127.0.0.1:${s.port}`]));
  console.log(`livehouse: seeded ${await seed(urls, secrets)}`);
}
