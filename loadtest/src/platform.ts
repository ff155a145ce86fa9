import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { services } from '../../packages/cli/src/services.ts';

/** One second of the platform process, as the embedded child measures it. */
export interface ProcessSample {
  at: number;
  eventLoop: { utilization: number; delayP50Ms: number; delayP99Ms: number; delayMaxMs: number };
  cpuPercent: number;
  rssMb: number;
  /** PGlite only: share of the second spent running SQL, holding the one session, and the wait for it. */
  db?: { sqlPercent: number; sessionHeldPercent: number; lockWaitP99Ms: number };
}

export type ChildMessage =
  | {
      type: 'ready';
      dbKind: 'pglite' | 'postgres';
      internalKey: string;
      services: Record<string, { api: string; admin: string }>;
    }
  | ({ type: 'sample' } & ProcessSample)
  | { type: 'killed'; service: string; at: number; error?: string }
  | { type: 'failed'; error: string };

export type ParentMessage = { type: 'kill'; service: string } | { type: 'stop' };

/** What the load test runs against: the public URL, and what it can see behind it. */
export interface Target {
  description: string;
  bff: string;
  /** Admin URLs (/metrics) by service name; empty when they cannot be reached. */
  admin: Record<string, string>;
  /** For reconciliation: the point service's API and the internal key, or why it cannot be checked. */
  ledger: { pointUrl: string; internalKey: string } | { unavailable: string };
  /**
   * The chat service, when the platform has one: chatters then join rooms through the BFF's public
   * socket; this is kept for the report and the chat checks.
   */
  chat?: { api: string; internalKey: string };
  samples: ProcessSample[];
  kill?(service: string): Promise<number>;
  close(): Promise<void>;
}

/** Starts the embedded platform in a child process; its log lines go to `logFile`. */
export async function startEmbedded(options: { db?: string; timeoutScale: number; logFile: string }): Promise<Target> {
  const log = openSync(options.logFile, 'w');
  const child: ChildProcess = fork(new URL('./platform-child.ts', import.meta.url), [], {
    stdio: ['ignore', log, log, 'ipc'],
    env: {
      ...process.env,
      ...(options.db && { LOADTEST_DB: options.db }),
      LOADTEST_TIMEOUT_SCALE: String(options.timeoutScale),
    },
  });
  const samples: ProcessSample[] = [];
  const waiters = new Map<string, (at: number, error?: string) => void>();
  const ready = await new Promise<Extract<ChildMessage, { type: 'ready' }>>((resolvePromise, reject) => {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') resolvePromise(message);
      else if (message.type === 'failed') reject(new Error(`the embedded platform failed to start:\n${message.error}`));
      else if (message.type === 'sample') samples.push(message);
      else if (message.type === 'killed') waiters.get(message.service)?.(message.at, message.error);
    });
    child.on('exit', (code) => reject(new Error(`the embedded platform exited (${code}); see ${options.logFile}`)));
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const send = (message: ParentMessage) => child.send(message);
  return {
    description: `embedded platform (child process, ${ready.dbKind === 'pglite' ? 'PGlite' : 'PostgreSQL'})`,
    bff: ready.services.bff?.api ?? '',
    admin: Object.fromEntries(Object.entries(ready.services).map(([name, s]) => [name, s.admin])),
    ledger: ready.services.point
      ? { pointUrl: ready.services.point.api, internalKey: ready.internalKey }
      : { unavailable: 'the platform has no point service' },
    ...(ready.services.chat && { chat: { api: ready.services.chat.api, internalKey: ready.internalKey } }),
    samples,
    kill: (service) =>
      new Promise((resolvePromise, reject) => {
        waiters.set(service, (at, error) =>
          error ? reject(new Error(`kill ${service}: ${error}`)) : resolvePromise(at),
        );
        send({ type: 'kill', service });
      }),
    async close() {
      if (child.exitCode !== null) return;
      send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

/**
 * A platform someone else runs (`livehouse up`, or a cluster behind a port-forward). Its admin ports
 * and the point service are guessed from `livehouse up`'s fixed ports when the target is on this
 * machine; otherwise they must be given.
 */
export async function connectTarget(options: {
  target: string;
  admin: Record<string, string> | 'none' | undefined;
  pointUrl: string | undefined;
  dataDir: string;
}): Promise<Target> {
  const host = new URL(options.target).hostname;
  const local = LOOPBACK.test(host);
  const admin =
    options.admin === 'none'
      ? {}
      : (options.admin ??
        (local
          ? Object.fromEntries(Object.entries(services).map(([name, s]) => [name, `http://${host}:${s.adminPort}`]))
          : {}));
  const pointUrl = options.pointUrl ?? (local ? `http://${host}:${services.point?.port ?? 7005}` : undefined);
  let internalKey = process.env.LIVEHOUSE_INTERNAL_KEY;
  const secretsFile = join(resolve(options.dataDir), 'secrets.json');
  if (!internalKey && existsSync(secretsFile)) {
    internalKey = (JSON.parse(await readFile(secretsFile, 'utf8')) as Record<string, string>).LIVEHOUSE_INTERNAL_KEY;
  }
  const ledger =
    pointUrl && internalKey
      ? { pointUrl, internalKey }
      : {
          unavailable: !pointUrl
            ? 'no --point-url for a target that is not on this machine'
            : `no internal key: set LIVEHOUSE_INTERNAL_KEY or --data (no ${secretsFile})`,
        };
  const chatPort = services.chat?.port;
  return {
    description: `${options.target} (started elsewhere)`,
    bff: options.target,
    admin,
    ledger,
    ...(local && chatPort && internalKey && { chat: { api: `http://${host}:${chatPort}`, internalKey } }),
    samples: [],
    async close() {},
  };
}
