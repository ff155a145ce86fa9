import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { type BuiltService, buildService, defineService } from '../src/service.ts';
import { dbKinds, openTestBackend, type TestBackend } from '../src/testing.ts';

const def = defineService({
  name: 'readiness',
  config: {},
  dependsOn: [],
  migrations: {
    '0001_t': { up: async (db) => void (await db.schema.createTable('t').addColumn('id', 'integer').execute()) },
  },
  routes: async () => {},
});

// The database's outage itself (a pod that stays ready while PostgreSQL is cut) is deploy/test/database-outage.test.ts.
describe.each(dbKinds)('readiness and the database signal on %s', (kind) => {
  let t: TestBackend;
  let service: BuiltService;
  beforeAll(async () => {
    t = await openTestBackend(kind);
    const config = parseConfig(
      {
        database: { url: 'memory://', schema: `${t.schemaPrefix}readiness`, migrateOnStart: false },
        log: { level: 'silent' },
      },
      {},
      { env: { LIVEHOUSE_INTERNAL_KEY: 'k'.repeat(32) } },
    );
    service = await buildService(def, config, { backend: t.backend });
  });
  afterAll(async () => {
    await service?.close();
    await t?.close();
  });

  const get = async (url: string) => {
    const res = await service.admin.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.body };
  };
  const databaseUp = async () => /^livehouse_database_up\{[^}]*\} (\d)$/m.exec((await get('/metrics')).body)?.[1];

  it('when a migration is pending, then the pod is not ready and the database signal says why; once migrated, both pass', async () => {
    expect(await get('/readyz')).toMatchObject({ status: 503 });
    expect(JSON.parse((await get('/readyz')).body)).toEqual({ status: 'migrations pending', pending: ['0001_t'] });
    expect((await get('/healthz/database')).status).toBe(503);
    expect(await databaseUp()).toBe('0');

    if (!service.database) throw new Error('the service has a database');
    await migrateToLatest(service.database, def.migrations ?? {});
    expect(await get('/readyz')).toMatchObject({ status: 200 });
    expect(await get('/healthz/database')).toMatchObject({ status: 200 });
    expect(await databaseUp()).toBe('1');
  });

  it('when the schema is gone after the pod was ready, then it stays ready and only the database signal fails', async () => {
    if (!service.database) throw new Error('the service has a database');
    await sql`drop schema ${sql.id(service.database.schema)} cascade`.execute(service.database.db);
    expect(await get('/readyz')).toMatchObject({ status: 200 });
    expect(await get('/healthz/database')).toMatchObject({ status: 503 });
    expect(await databaseUp()).toBe('0');
  });
});
