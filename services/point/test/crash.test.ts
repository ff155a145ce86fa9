import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InternalAuth } from '@livehouse/kit';
import { dbKinds } from '@livehouse/kit/testing';
import { freePort } from '@livehouse/kit/testing/ports';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Crash safety against real PostgreSQL: `livehouse serve point` is SIGKILLed in the middle of a
 * load of spends, restarted on the same database, and then the ledger must balance, every spend
 * that was acknowledged (201) must be there, and retrying the unacknowledged ones with their keys
 * must record each exactly once.
 */
const root = resolve(import.meta.dirname, '../../..');

describe.skipIf(!dbKinds.includes('postgres'))('point crash safety on postgres', () => {
  const key = randomBytes(32).toString('base64url');
  const auth = new InternalAuth(key);
  const schema = `t${randomBytes(4).toString('hex')}_point`;
  let dir: string;
  let configFile: string;
  let api: string;
  let admin: string;
  let child: ChildProcess | undefined;

  async function start() {
    const proc = spawn(process.execPath, ['packages/cli/src/main.ts', 'serve', 'point', '--config', configFile], {
      cwd: root,
      env: { PATH: process.env.PATH, LIVEHOUSE_INTERNAL_KEY: key },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (d) => {
      stderr += d;
    });
    child = proc;
    for (let i = 0; i < 300; i++) {
      if (proc.exitCode !== null) throw new Error(`point exited with ${proc.exitCode}: ${stderr}`);
      const ready = await fetch(`${admin}/readyz`).catch(() => undefined);
      if (ready?.status === 200) return proc;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`point did not become ready: ${stderr}`);
  }

  async function call(
    method: string,
    path: string,
    options: { body?: unknown; key?: string; user?: string; roles?: ('admin' | 'viewer')[]; as?: string } = {},
  ) {
    const token = await auth.sign({
      service: options.as ?? 'bff',
      ...(options.user && { user: { id: options.user, roles: options.roles ?? ['viewer'] } }),
    });
    const res = await fetch(api + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(options.body !== undefined && { 'content-type': 'application/json' }),
        ...(options.key && { 'idempotency-key': options.key }),
      },
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'livehouse-point-crash-'));
    configFile = join(dir, 'point.yaml');
    const [port, adminPort] = [await freePort(), await freePort()];
    api = `http://127.0.0.1:${port}`;
    admin = `http://127.0.0.1:${adminPort}`;
    await writeFile(
      configFile,
      [
        `http: { host: 127.0.0.1, port: ${port}, adminPort: ${adminPort}, shutdownTimeoutMs: 1000 }`,
        `database: { url: "${inject('postgresUrl')}", schema: ${schema}, migrateOnStart: true, poolSize: 10 }`,
        'log: { level: error }',
        'point: { platformFeeBps: 1000, receivingShards: 4 }',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    const client = new pg.Client({ connectionString: inject('postgresUrl') as string });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
    await rm(dir, { recursive: true, force: true });
  });

  it('when the process is killed mid-load and restarted, then the ledger balances and every acknowledged spend is there', async () => {
    let proc = await start();
    const payers = Array.from({ length: 6 }, () => randomUUID());
    const payees = Array.from({ length: 6 }, () => randomUUID());
    for (const user of payers) {
      const res = await call('POST', '/purchases', {
        body: { userId: user, paymentId: randomUUID(), amount: 100_000 },
        key: randomUUID(),
        as: 'payment',
      });
      expect(res.status).toBe(201);
    }

    type Sent = {
      key: string;
      body: { fromUserId: string; toUserId: string; amount: number; reason: string };
      status?: number;
      transferId?: string;
    };
    const sent: Sent[] = [];
    let killed = false;
    const worker = async () => {
      while (!killed) {
        const body = {
          fromUserId: payers[Math.floor(Math.random() * payers.length)] as string,
          toUserId: payees[Math.floor(Math.random() * payees.length)] as string,
          amount: 1 + Math.floor(Math.random() * 20),
          reason: 'crash',
        };
        const s: Sent = { key: randomUUID(), body };
        sent.push(s);
        try {
          const res = await call('POST', '/spends', { body, key: s.key, user: body.fromUserId });
          s.status = res.status;
          if (res.status === 201) s.transferId = res.body.transferId as string;
        } catch {
          return; // the connection died with the process: outcome unknown
        }
      }
    };
    const load = Promise.all(Array.from({ length: 24 }, worker));
    // Kill once a good number of spends are acknowledged, at an arbitrary moment of the load.
    const deadline = Date.now() + 20_000;
    while (sent.filter((s) => s.status === 201).length < 150 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, Math.random() * 300));
    killed = true;
    proc.kill('SIGKILL');
    await load;
    if (proc.exitCode === null && proc.signalCode === null) await once(proc, 'exit');

    const acked = sent.filter((s) => s.status === 201);
    // No answer (the process died), or an error answer from a starved machine (e.g. a pool timeout):
    // either way the client does not know, and retries with the same key.
    const unsettled = sent.filter((s) => s.status !== 201);
    expect(acked.length).toBeGreaterThanOrEqual(150);
    if (process.env.POINT_CRASH_LOG) {
      const answered = unsettled.filter((s) => s.status !== undefined).map((s) => s.status);
      console.log(`acked ${acked.length}, unsettled ${unsettled.length} (answered with errors: ${answered.join(',')})`);
    }

    proc = await start();
    const first = await call('GET', '/admin/reconciliation');
    expect(first.body.violations).toEqual([]);

    // Retrying the unsettled requests: each is recorded exactly once, whatever the crash did.
    for (const s of unsettled) {
      const res = await call('POST', '/spends', { body: s.body, key: s.key, user: s.body.fromUserId });
      expect(res.status).toBe(201);
      s.transferId = res.body.transferId as string;
    }
    const recorded = new Set<string>();
    for (const user of payers) {
      let cursor: string | null = null;
      do {
        const page = await call('GET', `/wallets/${user}/history?limit=100${cursor ? `&cursor=${cursor}` : ''}`, {
          user,
          roles: ['admin'],
        });
        for (const e of page.body.items as { transferId: string; kind: string }[])
          if (e.kind === 'spend') recorded.add(e.transferId);
        cursor = page.body.nextCursor as string | null;
      } while (cursor);
    }
    for (const s of acked) expect(recorded.has(s.transferId as string)).toBe(true);
    expect(recorded.size).toBe(acked.length + unsettled.length);
    const last = await call('GET', '/admin/reconciliation');
    expect(last.body).toMatchObject({ ok: true, violations: [] });
  }, 60_000);
});
