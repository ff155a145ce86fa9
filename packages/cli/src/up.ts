import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { closeOnSignal, generateDevSecrets, loggerOptions, openBackend, startPlatform } from '@livehouse/kit';
import { pino } from 'pino';
import { seed } from './seed.ts';
import { services } from './services.ts';

/** Secrets of the embedded platform: made on first start, kept so that tokens survive a restart. */
export async function embeddedSecrets(dataDir: string): Promise<Record<string, string>> {
  const file = join(dataDir, 'secrets.json');
  const kept = existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as Record<string, string>) : {};
  // A data folder from an older version gains the secrets it lacks; the ones it has are kept.
  const secrets = { ...generateDevSecrets(), ...kept };
  if (Object.keys(secrets).length !== Object.keys(kept).length) {
    await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets;
}

/** The embedded payment provider's pay pages (`livehouse up`): checkout urls point here. */
export const LOCAL_PROVIDER_PORT = 7100;

/** A second `livehouse up` on one machine (or beside a test run) shifts every port by LIVEHOUSE_PORT_OFFSET. */
export function portOffset(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 20_000) {
    throw new Error(`LIVEHOUSE_PORT_OFFSET: expected a whole number from 0 to 20000, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** `livehouse up`: every service in one process on loopback ports, one embedded PGlite, demo data on first start. */
export async function up(options: { dataDir: string; fresh: boolean }) {
  const started = performance.now();
  const dataDir = resolve(options.dataDir);
  if (options.fresh) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true });
  const secrets = await embeddedSecrets(dataDir);
  const pgdata = join(dataDir, 'pgdata');
  const firstStart = !existsSync(join(pgdata, 'PG_VERSION'));
  const level = process.env.LIVEHOUSE_LOG_LEVEL ?? 'info';
  const root = pino({ ...loggerOptions('livehouse', level), base: {} });

  console.log(firstStart ? `livehouse: creating the embedded database in ${pgdata} …` : 'livehouse: starting …');
  const backend = await openBackend(pgdata);
  const offset = portOffset(process.env.LIVEHOUSE_PORT_OFFSET);
  const bffPort = (services.bff?.port ?? 8080) + offset;
  const webPort = (services.web?.port ?? 3000) + offset;
  const platform = await startPlatform(
    Object.values(services).map((s) => s.definition),
    {
      backend,
      env: secrets,
      ports: (name) => {
        const s = services[name];
        return s ? { port: s.port + offset, adminPort: s.adminPort + offset } : { port: 0, adminPort: 0 };
      },
      config: (name) => ({
        log: { level },
        // The local payment provider: its pay pages on a fixed port, its signed webhooks to the BFF's public route.
        ...(name === 'payment' && {
          payment: {
            provider: 'local',
            local: { port: LOCAL_PROVIDER_PORT + offset, webhookUrl: `http://127.0.0.1:${bffPort}/webhooks/stripe` },
            // The buyer comes back to the web's wallet.
            successUrl: `http://127.0.0.1:${webPort}/wallet?checkout={CHECKOUT_SESSION_ID}`,
            cancelUrl: `http://127.0.0.1:${webPort}/wallet`,
          },
        }),
        // The wallet's buy form redirects to the local provider's pay page.
        ...(name === 'web' && { web: { checkoutOrigins: [`http://127.0.0.1:${LOCAL_PROVIDER_PORT + offset}`] } }),
        // Generated thumbnails live beside the database, in the data folder.
        ...(name === 'thumbnail' && {
          thumbnail: { storage: { kind: 'filesystem', dir: join(dataDir, 'thumbnails') } },
        }),
        // The BFF's views carry playback URLs from the edge (an optional backend, so named here).
        ...(name === 'bff' && {
          services: {
            ...Object.fromEntries(
              (services.bff?.definition.dependsOn ?? []).map((d) => [
                d,
                `http://127.0.0.1:${(services[d]?.port ?? 0) + offset}`,
              ]),
            ),
            edge: `http://127.0.0.1:${(services.edge?.port ?? 0) + offset}`,
          },
        }),
        ...(name === 'ingest' && {
          ingest: {
            rtmp: { port: 1935 + offset },
            workDir: join(dataDir, 'ingest-work'),
            storage: { kind: 'filesystem', dir: join(dataDir, 'media') },
            // Ctrl-C gives live streams a moment, within the 10 s shutdown bound.
            drainMs: 3000,
          },
        }),
      }),
      logger: (name) => root.child({ service: name }),
    },
  ).catch(async (err: unknown) => {
    await backend.close();
    throw err;
  });
  closeOnSignal(
    async () => {
      await platform.close();
      await backend.close();
    },
    { timeoutMs: 10_000, log: root },
  );

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const rows = [...platform.services].map(
    ([name, s]) => `  ${name.padEnd(10)} ${s.apiUrl.padEnd(24)} admin ${s.adminUrl}`,
  );
  console.log(
    [
      `livehouse is up in ${seconds} s — the public API (BFF): ${platform.url('bff')}`,
      '',
      '  service    API                      admin (/healthz /readyz /metrics)',
      ...rows,
      '',
      `data: ${dataDir}   stop: Ctrl-C`,
    ].join('\n'),
  );

  const marker = join(dataDir, 'seeded');
  if (!existsSync(marker)) {
    console.log('livehouse: seeding demo data (first start) …');
    const counts = await seed(new Map([...platform.services].map(([n, s]) => [n, s.apiUrl])), secrets);
    await writeFile(marker, new Date().toISOString());
    console.log(`livehouse: demo data ready: ${counts}`);
  }
}
