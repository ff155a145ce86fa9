import { randomUUID } from 'node:crypto';
import { InternalAuth } from '@livehouse/kit';
import pg from 'pg';
import { Pool } from 'undici';
import { describe, expect, inject, it } from 'vitest';
import { freePort, livehouse, waitFor, writeConfig } from './process.ts';

const env = { LIVEHOUSE_INTERNAL_KEY: 'an-internal-key-for-tests-only-0123456789' };

describe('livehouse serve', () => {
  it('when a config key is missing or invalid, then it exits non-zero with one line naming it', async () => {
    const { file } = writeConfig('http:\n  port: eighty\ndatabase:\n  poolSize: 5\n');
    const run = livehouse(['serve', 'user', '--config', file], env);
    const { code } = await run.exited;
    expect(code).toBe(2);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('http.port must be integer (got "eighty")');
    expect(lines[0]).toContain('database.url is required');
  });

  it('when the config file does not exist, then it says so in one line', async () => {
    const run = livehouse(['serve', 'user', '--config', '/nonexistent/app.yaml'], env);
    expect((await run.exited).code).toBe(2);
    expect(run.output().trim()).toBe('livehouse: invalid config /nonexistent/app.yaml: cannot read the file (ENOENT)');
  });

  it('when SIGTERM arrives under load, then in-flight requests complete and it exits 0 within 10 s', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const { file } = writeConfig(
      `http:\n  host: 127.0.0.1\n  port: ${port}\n  adminPort: ${adminPort}\ndatabase:\n  url: memory://\n  migrateOnStart: true\nlog:\n  level: info\n`,
    );
    const run = livehouse(['serve', 'user', '--config', file], env);
    try {
      await waitFor(`http://127.0.0.1:${adminPort}/readyz`);
      const token = await new InternalAuth(env.LIVEHOUSE_INTERNAL_KEY).sign({ service: 'bff' });
      const ids = Array.from({ length: 100 }, () => randomUUID()).join(',');
      // 60 keep-alive connections, opened by a first round of requests. The second round goes out on
      // them at once; the signal comes when its first answer does, so the rest are in flight (queued
      // for the database) and must complete. A request the server had not yet read from its socket
      // when the signal came is not in flight: it may be refused (503, or its idle connection closed),
      // never half-answered. On a busy machine a few are; without the drain most would be.
      const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 60 });
      const get = () =>
        pool.request({ method: 'GET', path: `/users?ids=${ids}`, headers: { authorization: `Bearer ${token}` } });
      await Promise.all(Array.from({ length: 60 }, () => get().then((r) => r.body.text())));
      let first!: () => void;
      const firstAnswered = new Promise<void>((r) => {
        first = r;
      });
      const requests = Array.from({ length: 60 }, () =>
        get().then(
          async (r) => {
            first();
            await r.body.text();
            return r.statusCode;
          },
          (err: NodeJS.ErrnoException) => err.code ?? 'error',
        ),
      );
      await firstAnswered;
      const signalled = Date.now();
      run.child.kill('SIGTERM');
      const statuses = await Promise.all(requests);
      const { code } = await run.exited;
      expect(Date.now() - signalled).toBeLessThan(10_000);
      expect(code).toBe(0);
      const answered = statuses.filter((s) => s === 200).length;
      expect(statuses.filter((s) => s !== 200 && s !== 503 && s !== 'ECONNRESET')).toEqual([]);
      expect(answered).toBeGreaterThanOrEqual(50);
      expect(run.output()).toContain('shut down cleanly');
      await pool.close();
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});

describe.skipIf(!inject('postgresUrl'))('livehouse serve --workers', () => {
  it('when two workers serve, then the admin port reports both, and SIGTERM drains both and exits 0', async () => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const schema = `w${Date.now().toString(36)}_user`;
    const { file } = writeConfig(
      `http:\n  host: 127.0.0.1\n  port: ${port}\n  adminPort: ${adminPort}\ndatabase:\n  url: ${inject('postgresUrl')}\n  schema: ${schema}\n  migrateOnStart: true\nlog:\n  level: warn\n`,
    );
    const run = livehouse(['serve', 'user', '--config', file, '--workers', '2'], env);
    try {
      await waitFor(`http://127.0.0.1:${adminPort}/readyz`, 90_000);
      const token = await new InternalAuth(env.LIVEHOUSE_INTERNAL_KEY).sign({ service: 'bff' });
      const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 8 });
      for (let i = 0; i < 40; i++) {
        const r = await pool.request({
          method: 'GET',
          path: `/users?ids=${randomUUID()}`,
          headers: { authorization: `Bearer ${token}` },
        });
        await r.body.text();
        expect(r.statusCode).toBe(200);
      }
      await pool.close();
      // Metrics summed over the workers: every request above is counted once.
      const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const served = metrics
        .split('\n')
        .filter((l) => l.startsWith('http_request_duration_seconds_count{') && l.includes('route="/users"'))
        .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
      expect(served).toBe(40);
      run.child.kill('SIGTERM');
      expect((await run.exited).code).toBe(0);
      expect(run.output()).toContain('all workers stopped');
    } finally {
      run.child.kill('SIGKILL');
      const client = new pg.Client({ connectionString: inject('postgresUrl') ?? '' });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
  });

  it('when --workers runs more than one process on embedded PGlite, then it refuses in one line', async () => {
    const { file } = writeConfig('database:\n  url: memory://\n');
    const run = livehouse(['serve', 'user', '--config', file, '--workers', '2'], env);
    expect((await run.exited).code).toBe(2);
    expect(run.output()).toContain('database.url must be a postgres:// URL when --workers runs more than one process');
  });
});
