/**
 * The embedded platform the load test runs against, in a process of its own (so the load generator
 * does not share its event loop): every service of `livehouse up`, on free loopback ports, on a
 * fresh PGlite folder (or a fresh PostgreSQL database). It reports, once a second, what limits it:
 * event-loop delay and utilisation, CPU, and for PGlite how busy the one database session is.
 * Parent ⇄ child messages: see ChildMessage and ParentMessage in platform.ts.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { REQUEST_BUDGET_MS } from '@livehouse/bff';
import { type DatabaseBackend, generateDevSecrets, openBackend, startPlatform } from '@livehouse/kit';
import { freePort } from '@livehouse/kit/testing/ports';
import pg from 'pg';
import { services } from '../../packages/cli/src/services.ts';
import type { ChildMessage, ParentMessage } from './platform.ts';

const send = (message: ChildMessage) => process.send?.(message);

/** PGlite is one session behind a lock (kit's SessionLock); these are its parts we time. */
interface PGliteShared {
  /** What the kit's PGlite dialect runs every statement through (one call per protocol batch). */
  pg: { execProtocolStream: (...args: unknown[]) => Promise<unknown> };
  lock: { acquire: () => Promise<() => void> };
}

const db = { sqlMs: 0, heldMs: 0, waitUs: createHistogram() };

/** Times every statement and every turn at the session lock, without changing what they do. */
function instrument(shared: PGliteShared) {
  const run = shared.pg.execProtocolStream.bind(shared.pg);
  shared.pg.execProtocolStream = async (...args) => {
    const t = performance.now();
    try {
      return await run(...args);
    } finally {
      db.sqlMs += performance.now() - t;
    }
  };
  const acquire = shared.lock.acquire.bind(shared.lock);
  shared.lock.acquire = async () => {
    const asked = performance.now();
    const release = await acquire();
    const got = performance.now();
    db.waitUs.record(Math.max(1, Math.round((got - asked) * 1000)));
    return () => {
      db.heldMs += performance.now() - got;
      release();
    };
  };
}

function sampleEverySecond(kind: 'pglite' | 'postgres') {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let elu = performance.eventLoopUtilization();
  let cpu = process.cpuUsage();
  let at = performance.now();
  setInterval(() => {
    const now = performance.now();
    const elapsed = now - at;
    const eluNow = performance.eventLoopUtilization(elu);
    const cpuNow = process.cpuUsage(cpu);
    send({
      type: 'sample',
      at: Date.now(),
      eventLoop: {
        utilization: eluNow.utilization,
        delayP50Ms: delay.percentile(50) / 1e6,
        delayP99Ms: delay.percentile(99) / 1e6,
        delayMaxMs: delay.max / 1e6,
      },
      cpuPercent: ((cpuNow.user + cpuNow.system) / 1000 / elapsed) * 100,
      rssMb: process.memoryUsage.rss() / 2 ** 20,
      ...(kind === 'pglite' && {
        db: {
          sqlPercent: (db.sqlMs / elapsed) * 100,
          sessionHeldPercent: (db.heldMs / elapsed) * 100,
          lockWaitP99Ms: db.waitUs.count > 0 ? db.waitUs.percentile(99) / 1000 : 0,
        },
      }),
    });
    delay.reset();
    db.waitUs.reset();
    db.sqlMs = 0;
    db.heldMs = 0;
    elu = performance.eventLoopUtilization();
    cpu = process.cpuUsage();
    at = now;
  }, 1000).unref();
}

/** A fresh database on the PostgreSQL server, so runs never mix with each other or with tests. */
async function freshPostgres(serverUrl: string) {
  const name = `livehouse_loadtest_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

async function main() {
  const postgresServer = process.env.LOADTEST_DB;
  const timeoutScale = Number(process.env.LOADTEST_TIMEOUT_SCALE ?? 1);
  const dataDir = await mkdtemp(join(tmpdir(), 'livehouse-loadtest-'));
  const postgres = postgresServer ? await freshPostgres(postgresServer) : undefined;
  const backend: DatabaseBackend = await openBackend(postgres?.url ?? join(dataDir, 'pgdata'), { poolSize: 10 });
  const shared = (backend as DatabaseBackend & { shared?: PGliteShared }).shared;
  if (shared) instrument(shared);
  const secrets = generateDevSecrets();
  // The BFF's port first: the embedded payment provider sends its signed webhooks there.
  const bffPort = await freePort();
  const platform = await startPlatform(
    Object.values(services).map((s) => s.definition),
    {
      backend,
      env: secrets,
      ports: (name) => ({ port: name === 'bff' ? bffPort : 0, adminPort: 0 }),
      config: (name) => ({
        log: { level: process.env.LIVEHOUSE_LOG_LEVEL ?? 'warn' },
        // The mix publishes no video: RTMP on a free port, so two runs (or a 'livehouse up') can share a machine.
        ...(name === 'ingest' && { ingest: { rtmp: { port: 0 } } }),
        // The BFF's default budget stretched together with its section timeouts.
        ...(name === 'bff' &&
          timeoutScale !== 1 && { bff: { timeoutScale, requestBudgetMs: REQUEST_BUDGET_MS * timeoutScale } }),
        ...(name === 'payment' && {
          payment: { provider: 'local', local: { webhookUrl: `http://127.0.0.1:${bffPort}/webhooks/stripe` } },
        }),
      }),
    },
  );
  sampleEverySecond(backend.kind);

  const stop = async () => {
    await Promise.race([platform.close(), new Promise((r) => setTimeout(r, 10_000))]).catch(() => {});
    await backend.close().catch(() => {});
    await postgres?.drop().catch((err: unknown) => console.error('could not drop the load-test database:', err));
    await rm(dataDir, { recursive: true, force: true });
  };

  process.on('message', (message: ParentMessage) => {
    if (message.type === 'kill') {
      const target = platform.services.get(message.service);
      if (!target) {
        send({ type: 'killed', service: message.service, at: Date.now(), error: 'no such service' });
        return;
      }
      // Only the API server: it stops answering as a crashed pod would, while its admin port still
      // serves /metrics, so the report can show what it did before.
      target.built.api.server.close();
      target.built.api.server.closeAllConnections();
      send({ type: 'killed', service: message.service, at: Date.now() });
    } else if (message.type === 'stop') {
      stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    }
  });
  // Ctrl-C reaches the whole process group: the parent decides when to stop (it sends 'stop');
  // if the parent is gone, stop and clean up anyway.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {
    stop().finally(() => process.exit(0));
  });
  process.on('disconnect', () => {
    stop().finally(() => process.exit(0));
  });

  send({
    type: 'ready',
    dbKind: backend.kind,
    internalKey: secrets.LIVEHOUSE_INTERNAL_KEY ?? '',
    services: Object.fromEntries(
      [...platform.services].map(([name, s]) => [name, { api: s.apiUrl, admin: s.adminUrl }]),
    ),
  });
}

main().catch((err: unknown) => {
  send({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
