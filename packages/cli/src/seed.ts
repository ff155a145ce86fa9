import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AppError, InternalAuth, ServiceClient } from '@livehouse/kit';
import { services } from './services.ts';

export const DEMO_PASSWORD = 'livehouse-demo';
const USERS = 50;

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
    return `${ids.length} users (password '${DEMO_PASSWORD}'), ${follows} follows`;
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
  }
}

async function ensureAccount(client: (name: string) => ServiceClient, handle: string) {
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
