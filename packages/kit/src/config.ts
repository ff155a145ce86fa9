import { readFileSync } from 'node:fs';
import { type Static, type TObject, type TProperties, Type } from 'typebox';
import { Value } from 'typebox/value';
import { parse as parseYaml } from 'yaml';

const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
  { default: 'info' },
);

/** Keys every service understands. A service adds its own section under its name. */
export const baseConfigProperties = {
  http: Type.Object(
    {
      host: Type.String({ default: '0.0.0.0' }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
      adminPort: Type.Integer({ minimum: 0, maximum: 65535, default: 9090 }),
      bodyLimitBytes: Type.Integer({ minimum: 1024, default: 65536 }),
      /** Longer than an AWS ALB's 60 s idle timeout, so the load balancer closes first. */
      keepAliveTimeoutMs: Type.Integer({ minimum: 1000, default: 65000 }),
      requestTimeoutMs: Type.Integer({ minimum: 1000, default: 30000 }),
      /**
       * Peers whose X-Forwarded-For names the client: false (none: backends, or no load balancer), or the
       * load balancer's CIDRs (the BFF behind an ALB: the VPC range). `true` is refused: it would let any
       * client choose its address, and with it its rate-limit bucket.
       */
      trustProxy: Type.Union(
        [
          Type.Literal(false),
          Type.Array(
            Type.String({
              pattern:
                '^(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}(?:/[0-9]{1,2})?|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(?:/[0-9]{1,3})?)$',
              description: 'an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/16',
            }),
            { minItems: 1, maxItems: 64 },
          ),
        ],
        { default: false },
      ),
      /** How long SIGTERM waits for in-flight requests before giving up. */
      shutdownTimeoutMs: Type.Integer({ minimum: 0, default: 10000 }),
    },
    { default: {}, additionalProperties: false },
  ),
  database: Type.Optional(
    Type.Object(
      {
        /** postgres://… for PostgreSQL; a folder or memory:// for embedded PGlite. Overridden by LIVEHOUSE_DATABASE_URL. */
        url: Type.String({ minLength: 1 }),
        /** PostgreSQL schema owned by the service; defaults to the service's name. */
        schema: Type.Optional(Type.String({ pattern: '^[a-z_][a-z0-9_]{0,62}$' })),
        poolSize: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
        /** How long a statement waits for a free pool connection before the request fails with a 503. */
        poolWaitMs: Type.Integer({ minimum: 100, maximum: 300_000, default: 5000 }),
        /** Run pending migrations at start-up (embedded mode); in Kubernetes a Job runs `livehouse migrate`. */
        migrateOnStart: Type.Boolean({ default: false }),
      },
      { additionalProperties: false },
    ),
  ),
  redis: Type.Optional(
    Type.Object(
      {
        url: Type.String({ pattern: '^rediss?://' }),
        /** Put before every key the kit writes (limits, events): one deployment (or test run) per prefix. */
        keyPrefix: Type.String({ pattern: '^[A-Za-z0-9:_-]*$', default: '' }),
      },
      { additionalProperties: false },
    ),
  ),
  /** Base URLs of the services this one calls, by name. */
  services: Type.Record(Type.String({ pattern: '^[a-z]+$' }), Type.String({ pattern: '^https?://' }), {
    default: {},
  }),
  log: Type.Object({ level: LogLevel }, { default: {}, additionalProperties: false }),
};

const BaseConfig = Type.Object(baseConfigProperties);
export type BaseConfig = Static<typeof BaseConfig> & { secrets: Secrets };

/** Secrets never live in the YAML file: they come from LIVEHOUSE_* environment variables. */
export interface Secrets {
  /** Shared HMAC key that signs internal tokens between services (LIVEHOUSE_INTERNAL_KEY, ≥ 32 bytes). */
  internalKey: string;
  /** Anything else a service reads, e.g. LIVEHOUSE_AUTH_SIGNING_KEY → `authSigningKey`. */
  [name: string]: string;
}

export class ConfigError extends Error {
  constructor(source: string, problems: string[]) {
    super(`invalid config ${source}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** `FOO_BAR` → `fooBar`, for LIVEHOUSE_FOO_BAR. */
function secretName(envName: string) {
  return envName
    .slice('LIVEHOUSE_'.length)
    .toLowerCase()
    .replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function readSecrets(env: NodeJS.ProcessEnv): Secrets {
  const secrets: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('LIVEHOUSE_') && value) secrets[secretName(key)] = value;
  }
  return secrets as Secrets;
}

function describe(errors: ReturnType<typeof Value.Errors>, value: unknown): string[] {
  const problems: string[] = [];
  for (const e of errors) {
    const at = e.instancePath.slice(1).replaceAll('/', '.');
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'boolean') continue; // reported once more as additionalProperties
    if (e.keyword === 'required') {
      for (const p of (params.requiredProperties as string[]) ?? [])
        problems.push(`${at ? `${at}.` : ''}${p} is required`);
    } else if (e.keyword === 'additionalProperties') {
      for (const p of (params.additionalProperties as string[]) ?? [])
        problems.push(`${at ? `${at}.` : ''}${p} is not a known key`);
    } else if (e.keyword === 'anyOf' && at === 'log.level') {
      problems.push(`log.level must be one of fatal, error, warn, info, debug, trace, silent`);
    } else if (at.startsWith('http.trustProxy')) {
      const got = (value as { http?: { trustProxy?: unknown } }).http?.trustProxy;
      problems.push(`http.trustProxy must be false or a list of CIDRs like [10.0.0.0/16] (got ${JSON.stringify(got)})`);
    } else {
      const got = e.instancePath
        .split('/')
        .slice(1)
        .reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
      problems.push(`${at || '(root)'} ${e.message} (got ${JSON.stringify(got)})`);
    }
  }
  return [...new Set(problems)];
}

/**
 * Validates a parsed config object against the base keys plus a service's own section,
 * fills defaults, merges secrets, and freezes it. Throws ConfigError naming every bad key.
 */
export function parseConfig<S extends TProperties>(
  raw: unknown,
  serviceProperties: S,
  options: { source?: string; env?: NodeJS.ProcessEnv } = {},
): BaseConfig & Static<TObject<S>> {
  const source = options.source ?? '(inline)';
  const env = options.env ?? process.env;
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(source, ['the file must be a YAML mapping']);
  const schema = Type.Object({ ...baseConfigProperties, ...serviceProperties }, { additionalProperties: false });
  const value = Value.Default(schema, structuredClone(raw)) as Record<string, unknown>;
  const secrets = readSecrets(env);
  if (secrets.databaseUrl) {
    value.database = { ...(value.database as object | undefined), url: secrets.databaseUrl };
    Value.Default(schema, value);
  }
  if (secrets.redisUrl) {
    value.redis = { ...(value.redis as object | undefined), url: secrets.redisUrl };
    Value.Default(schema, value);
  }
  const problems = describe(Value.Errors(schema, value), value);
  if (!secrets.internalKey) problems.push('LIVEHOUSE_INTERNAL_KEY (environment) is required');
  else if (Buffer.byteLength(secrets.internalKey) < 32)
    problems.push('LIVEHOUSE_INTERNAL_KEY must be at least 32 bytes');
  if (problems.length > 0) throw new ConfigError(source, problems);
  return deepFreeze({ ...value, secrets }) as BaseConfig & Static<TObject<S>>;
}

export function loadConfigFile<S extends TProperties>(file: string, serviceProperties: S, env?: NodeJS.ProcessEnv) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  return parseConfig(raw, serviceProperties, { source: file, ...(env && { env }) });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
