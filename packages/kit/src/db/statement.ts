import { createHash } from 'node:crypto';
import {
  type Compilable,
  type CompiledQuery,
  type Kysely,
  type KyselyPlugin,
  type QueryId,
  type QueryResult,
  type RootOperationNode,
  WithSchemaPlugin,
} from 'kysely';

/**
 * Statements built by Kysely once and then only executed. Building and compiling a query (the
 * builders, the per-query schema transform, the compiler) cost more CPU than pg's work on a hot
 * route; a statement's SQL never changes, only its parameters do. So a statement is built from
 * placeholders on first use (per schema and per shape), its compiled SQL kept with the position of
 * every placeholder among the parameters, and each later execution only fills those positions in.
 *
 * The build function gets the arguments as placeholders: it must put them into the query as they
 * are and never compute with them (a placeholder throws when converted to a string, number or
 * JSON, so `limit + 1` or `` `debt:${owner}` `` fail loudly on first use instead of compiling a
 * wrong constant). Compute such values before the call and pass them as arguments. A list of
 * values for `in` is one placeholder: write `= any(list)` (`eb.fn.any`), so the SQL is one shape.
 * Arrays of objects (rows to insert) and optional arguments are structure: each distinct shape
 * (lengths, present keys) is compiled once.
 *
 * Executions still run through Kysely's executor (the connection, the transaction and the result
 * plugins, so the statement counter sees every one), and the result type is the builder's.
 */

class Placeholder {
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  #misuse(): never {
    throw new TypeError(`statement argument ${this.path} was computed with at build time: pass the computed value`);
  }
  toString(): string {
    return this.#misuse();
  }
  valueOf(): never {
    return this.#misuse();
  }
  toJSON(): never {
    return this.#misuse();
  }
  [Symbol.toPrimitive](): never {
    return this.#misuse();
  }
}

/** An argument leaf: a value passed as one parameter. Plain objects and arrays of objects are structure. */
function isStructure(value: unknown): value is Record<string, unknown> | unknown[] {
  if (Array.isArray(value)) return value.length > 0 && value.every((v) => isPlainObject(v));
  return isPlainObject(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The arguments' structure (array lengths, which keys are present), the key of a compiled shape. */
function shapeOf(value: unknown): string {
  if (value === undefined) return 'u';
  if (!isStructure(value)) return '';
  if (Array.isArray(value)) {
    let s = `[${value.length}`;
    for (const v of value) s += shapeOf(v);
    return `${s}]`;
  }
  let s = '{';
  for (const k in value) s += `${k}:${shapeOf(value[k])},`;
  return `${s}}`;
}

/** The arguments with every leaf replaced by a placeholder named by its path. */
function placeholders(value: unknown, path: string): unknown {
  if (value === undefined) return undefined;
  if (!isStructure(value)) return new Placeholder(path);
  if (Array.isArray(value)) return value.map((v, i) => placeholders(v, `${path}.${i}`));
  const out: Record<string, unknown> = {};
  for (const k in value) out[k] = placeholders(value[k], path ? `${path}.${k}` : k);
  return out;
}

function leaf(args: unknown, path: readonly string[]): unknown {
  let v = args;
  for (const p of path) v = (v as Record<string, unknown>)[p];
  return v;
}

/** A compiled shape: the SQL, and for each parameter either a constant or the path of an argument. */
interface Template {
  sql: string;
  query: RootOperationNode;
  queryId: QueryId;
  slots: ({ constant: unknown } | { path: readonly string[]; top?: string })[];
}

/**
 * The SQL texts of compiled statements and their prepared-statement names. A PostgreSQL connection
 * prepares such a text once (a named statement) and then only binds parameters: neither the text
 * travels nor the server parses and plans it again on every execution. Names come from the text,
 * so one text has one name in every pool and process.
 */
const prepared = new Map<string, string>();

/** The prepared-statement name of a compiled statement's SQL, or undefined for any other SQL. */
export function preparedName(sql: string): string | undefined {
  return prepared.get(sql);
}

function compileTemplate<A>(db: Kysely<never>, args: A, build: (db: Kysely<never>, args: A) => Compilable<unknown>) {
  const compiled = build(db, placeholders(args, '') as A).compile();
  // A prepared `*` would fail ("cached plan must not change result type") on every connection that
  // prepared it once a migration adds a column (a rolling deploy): such statements stay unnamed.
  if (!prepared.has(compiled.sql) && !/"\.\*|select \*/.test(compiled.sql)) {
    prepared.set(compiled.sql, `lh_${createHash('sha256').update(compiled.sql).digest('base64url').slice(0, 22)}`);
  }
  const slots: Template['slots'] = compiled.parameters.map((p) => {
    if (!(p instanceof Placeholder)) return { constant: p };
    const path = p.path.split('.');
    return path.length === 1 ? { path, top: path[0] } : { path };
  });
  return { sql: compiled.sql, query: compiled.query, queryId: compiled.queryId, slots } satisfies Template;
}

/** What the compiled SQL depends on besides the shape: the schema plugin of the executing instance. */
function schemaKeyOf(db: Kysely<never>): object {
  const plugins: readonly KyselyPlugin[] = db.getExecutor().plugins;
  return plugins.find((p) => p instanceof WithSchemaPlugin) ?? NO_SCHEMA;
}
const NO_SCHEMA = {};

/** The row type a built query returns (what its `compile()` is typed with). */
type RowOf<Q> = Q extends Compilable<infer R> ? R : never;

/** Statements made by `statement()`, by name: what scripts/queries.ts writes out for review. */
export const statements = new Map<string, AnyStatement>();

export interface Statement<DB, A, R> {
  readonly name: string;
  /** Executes the statement (inside a transaction when given one). */
  execute(db: Kysely<DB>, args: A): Promise<QueryResult<R>>;
  rows(db: Kysely<DB>, args: A): Promise<R[]>;
  first(db: Kysely<DB>, args: A): Promise<R | undefined>;
  firstOrThrow(db: Kysely<DB>, args: A): Promise<R>;
  /** The compiled SQL and parameters for these arguments, without executing it. */
  compile(db: Kysely<DB>, args: A): CompiledQuery<R>;
  /** The SQL of these arguments' shape, with what fills each parameter (an argument's path or a constant). */
  describe(db: Kysely<DB>, args: A): { sql: string; parameters: string[] };
}
// biome-ignore lint/suspicious/noExplicitAny: a registry of statements of any database
export type AnyStatement = Statement<any, any, unknown> & { readonly example?: unknown };

/**
 * Declares a statement compiled once per schema and shape. `example` is a set of arguments used to
 * write the statement's SQL for review (scripts/queries.ts); `name` is unique across services.
 */
export function statement<DB, A, Q extends Compilable<unknown>>(
  name: string,
  build: (db: Kysely<DB>, args: A) => Q,
  example?: NoInfer<A>,
): Statement<DB, A, RowOf<Q>> {
  type R = RowOf<Q>;
  const cache = new WeakMap<object, Map<string, Template>>();
  const untyped = build as unknown as (db: Kysely<never>, args: A) => Compilable<unknown>;

  function template(db: Kysely<DB>, args: A): Template {
    const k = db as unknown as Kysely<never>;
    const schemaKey = schemaKeyOf(k);
    let shapes = cache.get(schemaKey);
    if (!shapes) {
      shapes = new Map();
      cache.set(schemaKey, shapes);
    }
    const shape = shapeOf(args);
    let t = shapes.get(shape);
    if (!t) {
      t = compileTemplate(k, args, untyped);
      shapes.set(shape, t);
    }
    return t;
  }

  function compile(db: Kysely<DB>, args: A): CompiledQuery<R> {
    const t = template(db, args);
    const parameters = new Array<unknown>(t.slots.length);
    for (let i = 0; i < t.slots.length; i++) {
      const s = t.slots[i] as Template['slots'][number];
      parameters[i] =
        'constant' in s
          ? s.constant
          : s.top !== undefined
            ? (args as Record<string, unknown>)[s.top]
            : leaf(args, s.path);
    }
    return { sql: t.sql, parameters, query: t.query, queryId: t.queryId };
  }

  const self: Statement<DB, A, R> & { example?: A } = {
    name,
    ...(example !== undefined && { example }),
    compile,
    describe: (db, args) => {
      const t = template(db, args);
      const parameters = t.slots.map((s) =>
        'constant' in s ? `constant ${JSON.stringify(s.constant)}` : s.path.join('.'),
      );
      return { sql: t.sql, parameters };
    },
    execute: (db, args) => db.executeQuery(compile(db, args)),
    rows: async (db, args) => (await db.executeQuery(compile(db, args))).rows,
    first: async (db, args) => (await db.executeQuery(compile(db, args))).rows[0],
    firstOrThrow: async (db, args) => {
      const row = (await db.executeQuery(compile(db, args))).rows[0];
      if (row === undefined) throw new Error(`statement ${name} returned no row`);
      return row;
    },
  };
  statements.set(name, self as AnyStatement);
  return self;
}
