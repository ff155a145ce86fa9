import {
  type DatabaseIntrospector,
  type Dialect,
  Kysely,
  type SchemaMetadata,
  sql,
  type TableMetadata,
  WithSchemaPlugin,
} from 'kysely';
import { type Migration, type MigrationResultSet, Migrator } from 'kysely/migration';
import { ensureOutboxNotify } from '../outbox.ts';
import type { Database } from './database.ts';

export type Migrations = Record<string, Migration>;

/**
 * Kysely's migrator looks for its table by introspecting every table of the database; a schema
 * dropped meanwhile by someone else (another service, a parallel test run) fails that query with
 * "schema does not exist". The migrator only needs to know the service's own tables.
 */
class OwnSchemaIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>;
  readonly #schema: string;

  constructor(db: Kysely<unknown>, schema: string) {
    this.#db = db;
    this.#schema = schema;
  }

  async getSchemas(): Promise<SchemaMetadata[]> {
    return [{ name: this.#schema }];
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string }>`
      select table_name as name from information_schema.tables where table_schema = ${this.#schema}`.execute(this.#db);
    return rows.map((r) => ({ name: r.name, schema: this.#schema, isView: false, isForeign: false, columns: [] }));
  }
}

function migrationDb(database: Database<unknown>) {
  const base = database.dialect;
  const dialect: Dialect = {
    createAdapter: () => base.createAdapter(),
    createDriver: () => base.createDriver(),
    createQueryCompiler: () => base.createQueryCompiler(),
    createIntrospector: (db) => new OwnSchemaIntrospector(db, database.schema),
  };
  return new Kysely<unknown>({ dialect, plugins: [new WithSchemaPlugin(database.schema)] });
}

function migrator(database: Database<unknown>, migrations: Migrations) {
  return new Migrator({
    db: migrationDb(database),
    provider: { getMigrations: async () => migrations },
    migrationTableSchema: database.schema,
  });
}

/** Creates the service's schema if needed and applies pending migrations, in name order. */
export async function migrateToLatest(database: Database<unknown>, migrations: Migrations) {
  // Two processes creating the same schema at once: one of them gets a unique violation.
  await sql`create schema if not exists ${sql.id(database.schema)}`
    .execute(database.db as Kysely<unknown>)
    .catch((err: { code?: string }) => {
      if (err.code !== '23505' && err.code !== '42P06') throw err;
    });
  const result: MigrationResultSet = await migrator(database, migrations).migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} of schema ${database.schema} failed`, {
      cause: result.error,
    });
  }
  await ensureOutboxNotify(database.db as Kysely<unknown>, database.schema);
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Names of migrations not yet applied: readiness fails while there are any. */
export async function pendingMigrations(database: Database<unknown>, migrations: Migrations) {
  const all = await migrator(database, migrations).getMigrations();
  return all.filter((m) => !m.executedAt).map((m) => m.name);
}
