import { type Kysely, sql } from 'kysely';
import { type Migration, type MigrationResultSet, Migrator } from 'kysely/migration';
import type { Database } from './database.ts';

export type Migrations = Record<string, Migration>;

function migrator(database: Database<unknown>, migrations: Migrations) {
  return new Migrator({
    db: database.db as Kysely<unknown>,
    provider: { getMigrations: async () => migrations },
    migrationTableSchema: database.schema,
  });
}

/** Creates the service's schema if needed and applies pending migrations, in name order. */
export async function migrateToLatest(database: Database<unknown>, migrations: Migrations) {
  await sql`create schema if not exists ${sql.id(database.schema)}`.execute(database.db as Kysely<unknown>);
  const result: MigrationResultSet = await migrator(database, migrations).migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} of schema ${database.schema} failed`, {
      cause: result.error,
    });
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Names of migrations not yet applied: readiness fails while there are any. */
export async function pendingMigrations(database: Database<unknown>, migrations: Migrations) {
  const all = await migrator(database, migrations).getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}
