import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteSnapshot: string;
    postgresUrl: string | null;
    redisUrl: string | null;
  }
}

/** CI sets this: then a missing PostgreSQL or Redis fails the run instead of skipping its tests. */
const required = process.env.LIVEHOUSE_TEST_REQUIRE_SERVICES === '1';

async function reachablePostgres(url: string) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function reachableRedis(url: string) {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * Once per test run: a freshly initialised PGlite dumped to a file (initialising takes seconds,
 * loading the dump well under one), and the real PostgreSQL and Redis when they answer.
 */
export default async function setup(project: TestProject) {
  const pglite = await PGlite.create();
  const dump = await pglite.dumpDataDir('none');
  await pglite.close();
  const snapshot = join(tmpdir(), `livehouse-pglite-${process.pid}.tar`);
  await writeFile(snapshot, Buffer.from(await dump.arrayBuffer()));
  project.provide('pgliteSnapshot', snapshot);

  const postgresUrl = process.env.LIVEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.LIVEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/15';
  const [pgOk, redisOk] = await Promise.all([reachablePostgres(postgresUrl), reachableRedis(redisUrl)]);
  const missing = [!pgOk && `PostgreSQL (${postgresUrl})`, !redisOk && `Redis (${redisUrl})`].filter(Boolean);
  if (missing.length > 0) {
    const message = `not reachable: ${missing.join(', ')}`;
    if (required) throw new Error(`${message}; LIVEHOUSE_TEST_REQUIRE_SERVICES=1 makes these tests mandatory`);
    console.warn(`[livehouse tests] ${message}: their tests are skipped`);
  }
  project.provide('postgresUrl', pgOk ? postgresUrl : null);
  project.provide('redisUrl', redisOk ? redisUrl : null);
}
