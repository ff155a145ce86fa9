import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AppError, type Clients, clientsFor, InternalAuth, ServiceClient } from '@livehouse/kit';
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

type Actor = { id: string; roles: ('viewer' | 'streamer' | 'admin')[] };

/**
 * Demo data through the services' own APIs (so it obeys every rule they enforce), acting as an
 * admin with the internal key. Idempotent: run it twice, get the same data.
 */
export async function seed(urls: Map<string, string>, secrets: Record<string, string>) {
  const auth = new InternalAuth(secrets.LIVEHOUSE_INTERNAL_KEY ?? '');
  const made = Object.fromEntries(
    [...urls].map(([name, url]) => [name, new ServiceClient(name, url, { caller: 'seed', auth })]),
  );
  // A service that is not running throws when its client is touched.
  const client = clientsFor('seed', made);
  const admin = { id: await ensureAccount(client, 'admin'), roles: ['admin' as const] };
  await client.auth.grantRole({ params: { id: admin.id, role: 'admin' }, user: admin });
  try {
    const ids: string[] = [];
    for (let i = 1; i <= USERS; i++) ids.push(await ensureAccount(client, `viewer_${String(i).padStart(2, '0')}`));
    // Everyone follows the next five, so every list has a few pages' worth with small limits.
    let follows = 0;
    for (let i = 0; i < ids.length; i++) {
      for (let k = 1; k <= 5; k++) {
        const me = ids[i]!;
        const target = ids[(i + k) % ids.length]!;
        await client.user.follow({ params: { id: me, targetId: target }, user: { id: me, roles: ['viewer'] } });
        follows++;
      }
    }
    if (!urls.has('contents')) return `${ids.length} users (password '${DEMO_PASSWORD}'), ${follows} follows`;

    const categories = [];
    for (const [slug, name] of CATEGORIES) categories.push(await ensureCategory(client, admin, slug, name));
    let live = 0;
    let archives = 0;
    for (let i = 1; i <= STREAMERS; i++) {
      const handle = `streamer_${String(i).padStart(2, '0')}`;
      const id = await ensureAccount(client, handle);
      await client.auth.grantRole({ params: { id, role: 'streamer' }, user: admin });
      const streamer = { id, roles: ['viewer' as const, 'streamer' as const] };
      const category = categories[i % categories.length]!;
      const channel = await ensureChannel(client, streamer, `${handle}'s ${category.name} channel`, category.id);
      if (i <= 3 && !channel.featured) {
        await client.contents.updateChannel({ params: { id: channel.id }, body: { featured: true }, user: admin });
      }
      // Viewers follow streamers, so home's "following live" has something to show.
      for (let v = 0; v < ids.length; v += i) {
        const viewer = ids[v] as string;
        await client.user.follow({ params: { id: viewer, targetId: id }, user: { id: viewer, roles: ['viewer'] } });
      }
      if (i <= 6) {
        const streamId =
          channel.liveStreamId ?? (await goLive(client, streamer, channel.id, `${category.name} marathon #${i}`));
        await client.contents.setViewers({ params: { id: streamId }, body: { count: 1000 - i * 100 } });
        live++;
      } else {
        const past = await client.contents.archives({ params: { id: channel.id } });
        if (past.items.length === 0) {
          const streamId = await goLive(client, streamer, channel.id, `Yesterday's ${category.name} session`);
          await client.contents.endStream({ params: { id: streamId }, user: streamer });
        }
        archives++;
      }
    }
    let wallets = 0;
    if (urls.has('payment')) {
      // Through the verified path: a checkout per pack, paid at the embedded provider, credited by its signed webhook.
      for (const [i, id] of ids.entries()) {
        for (const n of [1, 2]) {
          const key = `seed-checkout-${i + 1}-${n}`;
          const viewer = { id, roles: ['viewer' as const] };
          const checkout = await client.payment.openCheckout({
            body: { packId: 'p500' },
            headers: { 'idempotency-key': key },
            user: viewer,
          });
          if (checkout.status === 'open' && checkout.url) await payLocally(checkout.url);
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
    await Promise.all(Object.values(made).map((c) => c.close()));
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

async function ensureAccount(client: Clients, handle: string) {
  try {
    const session = await client.auth.signUp({
      body: { handle, email: `${handle}@demo.livehouse.dev`, password: DEMO_PASSWORD },
    });
    return session.account.id;
  } catch (err) {
    if (!(err instanceof AppError) || (err.code !== 'handle_taken' && err.code !== 'email_taken')) throw err;
    return (await client.user.byHandle({ params: { handle } })).id;
  }
}

const conflict = (err: unknown) => err instanceof AppError && err.status === 409;

async function ensureCategory(client: Clients, admin: Actor, slug: string, name: string) {
  try {
    return await client.contents.createCategory({ body: { slug, name }, user: admin });
  } catch (err) {
    if (!conflict(err)) throw err;
    return client.contents.category({ params: { slug } });
  }
}

async function ensureChannel(client: Clients, streamer: Actor, title: string, categoryId: string) {
  try {
    return (await client.contents.createChannel({ body: { title, categoryId }, user: streamer })).channel;
  } catch (err) {
    if (!conflict(err)) throw err;
    return client.contents.channelOf({ params: { userId: streamer.id } });
  }
}

async function goLive(client: Clients, streamer: Actor, channelId: string, title: string) {
  const created = await client.contents.createStream({ params: { id: channelId }, body: { title }, user: streamer });
  await client.contents.startStream({ params: { id: created.id }, user: streamer });
  return created.id;
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
