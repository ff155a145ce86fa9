import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openBackend } from '@livehouse/kit';
import { FaultProxy } from '@livehouse/kit/testing/fault-proxy';
import { freePort } from '@livehouse/kit/testing/ports';
import pg from 'pg';
// The CLI's registry: what `livehouse serve <name>` runs, and so what each of those processes calls.
import { services as registry } from '../../packages/cli/src/services.ts';

/**
 * Backends as separate processes (`livehouse serve <name> --config <yaml>`, what a pod runs), each
 * behind a fault proxy of its own; for the fault-injection tests and `npm run bench:bff`.
 */

export const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'packages/cli/src/main.ts');
/** The project's Node 24 (the `node` dev dependency), as `npm run` would use it. */
export const node = join(root, 'node_modules/.bin/node');

/** Which backends a backend calls (straight, never through a proxy: only the BFF's calls are faulted). */
const callsOf = (name: string) => registry[name]?.definition.dependsOn ?? [];

export { freePort };

export async function waitReady(url: string, timeoutMs: number, alive: () => boolean = () => true) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    if (!alive()) throw new Error(`${url}: the process exited before it was ready`);
    if (Date.now() > deadline) throw new Error(`${url} was not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One `livehouse serve` process. */
export class ServiceProcess {
  readonly name: string;
  readonly port: number;
  readonly adminPort: number;
  readonly #configFile: string;
  readonly #env: Record<string, string>;
  readonly #script: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #output = '';

  constructor(
    name: string,
    ports: { port: number; adminPort: number },
    config: object,
    env: Record<string, string>,
    dir: string,
    /** What runs `serve`: the CLI, or a launcher that imports it (a bench variant). */
    script = cli,
  ) {
    this.name = name;
    this.port = ports.port;
    this.adminPort = ports.adminPort;
    this.#env = env;
    this.#script = script;
    this.#configFile = join(dir, `${name}-${ports.port}.yaml`);
    // YAML is a superset of JSON.
    writeFileSync(this.#configFile, JSON.stringify({ http: { host: '127.0.0.1', ...ports }, ...config }, null, 2));
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get adminUrl() {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  /** The process id, e.g. to read its CPU time from /proc. */
  get pid() {
    return this.#child?.pid;
  }

  get running() {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The last lines it printed, for a failure message. */
  output() {
    return this.#output.slice(-4000);
  }

  start() {
    const child = spawn(node, [this.#script, 'serve', this.name, '--config', this.#configFile], {
      cwd: root,
      env: { ...process.env, ...this.#env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      this.#output = (this.#output + d.toString()).slice(-64_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#child = child;
    this.#exited = new Promise((ok) => child.once('exit', () => ok()));
  }

  async ready(timeoutMs = 60_000) {
    try {
      await waitReady(`${this.adminUrl}/readyz`, timeoutMs, () => this.running);
    } catch (err) {
      throw new Error(`${this.name}: ${(err as Error).message}\n${this.output()}`);
    }
  }

  /** Like an OOM kill or a node failure: no draining. */
  async kill() {
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM (drain), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000) {
    if (!this.running) return;
    this.#child?.kill('SIGTERM');
    const timer = setTimeout(() => this.#child?.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }
}

export interface Backend {
  process: ServiceProcess;
  /** Between the BFF and this backend. */
  proxy: FaultProxy;
}

export interface FleetOptions {
  names: string[];
  /** LIVEHOUSE_* secrets every process shares (generateDevSecrets()). */
  secrets: Record<string, string>;
  /** A PostgreSQL URL (each backend in a fresh schema of its own), or memory:// PGlite per process. */
  databaseUrl?: string;
  /**
   * Without PostgreSQL: an initialised PGlite data directory dumped to a file (the tests' snapshot).
   * Each backend then opens a data folder made from it, which skips initdb (tens of seconds on a busy
   * machine) and keeps its data across a kill and restart.
   */
  pgliteSnapshot?: string;
  logLevel?: string;
  /** Database connections per backend (PostgreSQL). */
  poolSize?: number;
  /** Extra config per backend. */
  config?: (name: string) => Record<string, unknown>;
}

export interface Fleet {
  backends: Map<string, Backend>;
  /** PostgreSQL only: each backend's schema is this prefix and its name. */
  schemaPrefix: string;
  /** `services:` for the BFF's config: every backend through its proxy. */
  proxied(): Record<string, string>;
  /** `services:` straight to the backends. */
  direct(): Record<string, string>;
  /** Another `livehouse serve` process (e.g. the BFF) stopped with the fleet; `script` replaces the CLI. */
  spawn(name: string, config: object, script?: string): Promise<ServiceProcess>;
  close(): Promise<void>;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'livehouse-fleet-'));
  const postgres = options.databaseUrl?.startsWith('postgres') ? options.databaseUrl : undefined;
  const schemaPrefix = `f${randomBytes(4).toString('hex')}_`;
  const ports = new Map<string, { port: number; adminPort: number }>();
  for (const name of options.names) ports.set(name, { port: await freePort(), adminPort: await freePort() });
  const direct = () => Object.fromEntries([...ports].map(([name, p]) => [name, `http://127.0.0.1:${p.port}`]));
  const log = { level: options.logLevel ?? 'warn' };
  const extra: ServiceProcess[] = [];
  const backends = new Map<string, Backend>();

  const fleet: Fleet = {
    backends,
    schemaPrefix,
    proxied: () => Object.fromEntries([...backends].map(([name, b]) => [name, b.proxy.url])),
    direct,
    async spawn(name, config, script) {
      const p = new ServiceProcess(
        name,
        { port: await freePort(), adminPort: await freePort() },
        { log, ...config },
        options.secrets,
        dir,
        script,
      );
      extra.push(p);
      p.start();
      await p.ready();
      return p;
    },
    async close() {
      await Promise.all(extra.map((p) => p.stop()));
      await Promise.all([...backends.values()].map(async (b) => Promise.all([b.process.stop(), b.proxy.close()])));
      if (postgres) {
        const client = new pg.Client({ connectionString: postgres });
        await client.connect();
        try {
          const { rows } = await client.query<{ nspname: string }>(
            'select nspname from pg_namespace where nspname like $1',
            [`${schemaPrefix}%`],
          );
          for (const { nspname } of rows) await client.query(`drop schema "${nspname}" cascade`);
        } finally {
          await client.end();
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    const snapshot = !postgres && options.pgliteSnapshot ? new Blob([readFileSync(options.pgliteSnapshot)]) : undefined;
    const all = direct();
    for (const name of options.names) {
      const definition = registry[name]?.definition;
      if (!definition) throw new Error(`fleet: livehouse serve does not know ${name}`);
      const missing = callsOf(name).filter((d) => !all[d]);
      if (missing.length > 0) throw new Error(`fleet: ${name} calls ${missing.join(', ')}: start them too`);
      let url = postgres ?? 'memory://';
      if (snapshot && definition.migrations) {
        url = join(dir, `${name}-data`);
        await (await openBackend(url, { loadDataDir: snapshot })).close();
      }
      const config = {
        log,
        ...(definition.migrations && {
          database: {
            url,
            ...(postgres && { schema: `${schemaPrefix}${name}` }),
            migrateOnStart: true,
            poolSize: options.poolSize ?? 8,
          },
        }),
        services: Object.fromEntries(callsOf(name).map((d) => [d, all[d]])),
        ...options.config?.(name),
      };
      const proc = new ServiceProcess(name, ports.get(name)!, config, options.secrets, dir);
      const proxy = await FaultProxy.start({ target: proc.url });
      backends.set(name, { process: proc, proxy });
    }
    // Every port is known up front, so all start at once.
    for (const b of backends.values()) b.process.start();
    await Promise.all([...backends.values()].map((b) => b.process.ready()));
  } catch (err) {
    await fleet.close();
    throw err;
  }
  return fleet;
}
