import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InternalAuth } from '@livehouse/kit';
import { FaultProxy } from '@livehouse/kit/testing/fault-proxy';
import { freePort } from '@livehouse/kit/testing/ports';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { type K8sObject, render } from './manifests.ts';
import { type Running, runContainer, waitFor200 } from './pod.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

const postgresUrl = inject('postgresUrl');
const redisUrl = inject('redisUrl');

/**
 * A database failover under a running pod: the rendered dev point Deployment runs on real PostgreSQL through a
 * TCP proxy, under a load of purchases (each a transaction with an outbox row, relayed to Redis). The proxy is
 * cut mid-load and kept down, then every backend of the pod is terminated by the server
 * (`pg_terminate_backend`). The process must survive both, stay ready (readiness says "this pod can serve";
 * a shared database going away must not empty every Service at once), report the database apart, and recover.
 */
describe.skipIf(!postgresUrl || !redisUrl)('point under a database outage (dev Deployment, real PostgreSQL)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'livehouse-outage-'));
  const schema = `t${randomBytes(4).toString('hex')}_point`;
  const appName = `livehouse-outage-${randomBytes(4).toString('hex')}`;
  const running: Running[] = [];
  let proxy: FaultProxy | undefined;

  afterAll(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await proxy?.close();
    const client = new pg.Client({ connectionString: postgresUrl as string });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('when PostgreSQL is cut and its backends are terminated mid-load, then the process survives, stays ready, reports the database down and recovers', async () => {
    const dev = render('deploy/k8s/overlays/dev');
    const deployment = dev.find((o) => o.kind === 'Deployment' && o.metadata.name === 'point') as K8sObject;
    const pod = deployment.spec.template.spec;
    const app = pod.containers.find((c: Any) => c.name === 'app');
    const migrate = pod.initContainers.find((c: Any) => c.name === 'migrate');
    const configMap = dev.find(
      (o) =>
        o.kind === 'ConfigMap' && o.metadata.name === pod.volumes.find((v: Any) => v.name === 'config').configMap.name,
    ) as K8sObject;
    const portOf = (name: string | number) =>
      typeof name === 'number' ? name : (app.ports.find((p: Any) => p.name === name).containerPort as number);

    const target = new URL(postgresUrl as string);
    proxy = await FaultProxy.start({ target: `${target.hostname}:${target.port || 5432}` });
    const viaProxy = new URL(postgresUrl as string);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    viaProxy.searchParams.set('application_name', appName);

    const config = parseYaml(configMap.data['application.yaml']);
    const [port, adminPort] = [await freePort(), await freePort()];
    config.http = { ...config.http, host: '127.0.0.1', port, adminPort, shutdownTimeoutMs: 2000 };
    config.database.schema = schema;
    config.redis = { url: redisUrl, keyPrefix: `${schema}:` };
    const configFile = join(tmp, 'application.yaml');
    writeFileSync(configFile, stringify(config));
    const internalKey = randomBytes(32).toString('hex');
    const env: NodeJS.ProcessEnv = {
      LIVEHOUSE_INTERNAL_KEY: internalKey,
      LIVEHOUSE_DATABASE_URL: viaProxy.toString(),
      LIVEHOUSE_REDIS_URL: redisUrl as string,
    };
    const envOf = (c: Any) => Object.fromEntries((c.env as Any[]).map((e) => [e.name, env[e.name]]));

    const init = runContainer(migrate, envOf(migrate), configFile);
    running.push(init);
    expect(await init.exited, init.output()).toBe(0);
    const service = runContainer(app, envOf(app), configFile);
    running.push(service);
    const alive = () => service.child.exitCode === null && service.child.signalCode === null;
    const admin = (path: string) => `http://127.0.0.1:${adminPort}${path}`;
    const probe = (p: Any) => {
      expect(portOf(p.httpGet.port)).toBe(portOf('admin'));
      return admin(p.httpGet.path);
    };

    const auth = new InternalAuth(internalKey);
    const purchase = async () => {
      const token = await auth.sign({ service: 'payment' });
      const res = await fetch(`http://127.0.0.1:${port}/purchases`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify({ userId: randomUUID(), paymentId: randomUUID(), amount: 100 }),
        signal: AbortSignal.timeout(15_000),
      });
      return res.status;
    };

    try {
      await waitFor200(probe(app.startupProbe), 60_000, alive);
      await waitFor200(probe(app.readinessProbe), 20_000, alive);
      await waitFor200(admin('/healthz/database'), 20_000, alive);

      // A load of transactions, so that connections are checked out of the pool when they die.
      let loading = true;
      const statuses: number[] = [];
      const worker = async () => {
        while (loading) statuses.push(await purchase().catch(() => 0));
      };
      const load = Promise.all(Array.from({ length: 8 }, worker));
      const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000) => {
        const deadline = Date.now() + timeoutMs;
        while (!(await check())) {
          if (!alive()) throw new Error(`the process exited (${service.child.exitCode}) while waiting for ${what}`);
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until('20 purchases', () => statuses.filter((s) => s === 201).length >= 20);

      // 1. The network to the database goes away mid-transaction and stays away (a failover).
      const outageFrom = statuses.length;
      await proxy.set('down');
      const status = async (url: string) =>
        (await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined))?.status;
      await until('the database check to fail', async () => (await status(admin('/healthz/database'))) === 503);
      // Time for every in-flight query and the relay to meet the outage.
      const failedBefore = statuses.filter((s) => s !== 201).length;
      await until('failed requests during the outage', () => statuses.filter((s) => s !== 201).length > failedBefore);
      // A database away is the service unavailable for a moment (503, retry), not a bug of ours (500).
      const outage = statuses.slice(outageFrom).filter((s) => s !== 201);
      expect(
        outage.filter((s) => s === 500),
        String(outage),
      ).toEqual([]);
      expect(outage).toContain(503);
      expect(alive(), service.output()).toBe(true);
      expect(await status(probe(app.livenessProbe))).toBe(200);
      expect(await status(probe(app.readinessProbe))).toBe(200);

      // 2. The database comes back: the pool reconnects, requests succeed again.
      await proxy.set('pass');
      await until('the database check to pass', async () => (await status(admin('/healthz/database'))) === 200);
      const okBefore = statuses.filter((s) => s === 201).length;
      await until('purchases after recovery', () => statuses.filter((s) => s === 201).length >= okBefore + 10);

      // 3. The server ends every connection of this pod (what a primary's restart does to its sessions).
      const dba = new pg.Client({ connectionString: postgresUrl as string });
      await dba.connect();
      try {
        const { rowCount } = await dba.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1',
          [appName],
        );
        expect(rowCount).toBeGreaterThan(0);
      } finally {
        await dba.end();
      }
      const okAfterTerminate = statuses.filter((s) => s === 201).length;
      await until('purchases after the backends were terminated', () => {
        return statuses.filter((s) => s === 201).length >= okAfterTerminate + 10;
      });
      loading = false;
      await load;
      expect(alive(), service.output()).toBe(true);
      expect(await status(probe(app.readinessProbe))).toBe(200);

      // Nothing the outage did left the ledger inconsistent.
      const token = await auth.sign({ service: 'payment' });
      const rec = await fetch(`http://127.0.0.1:${port}/admin/reconciliation`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(await rec.json()).toMatchObject({ ok: true, violations: [] });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- service output ---\n${service.output().slice(-4000)}`);
    }
    service.child.kill('SIGTERM');
    expect(await service.exited, service.output().slice(-4000)).toBe(0);
  }, 150_000);
});
