/**
 * `npm run bench:workers`: does `livehouse serve --workers 2` use both cores? The same service (user,
 * on the real PostgreSQL) with 1 and then 2 workers, autocannon on the batch lookup, side by side.
 * Writes bench/results/workers.json. PostgreSQL runs on the same two cores, so 2× is out of reach here.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InternalAuth } from '@livehouse/kit';
import autocannon from 'autocannon';
import pg from 'pg';

const root = resolve(import.meta.dirname, '..');
const postgresUrl = process.env.LIVEHOUSE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const key = 'bench-internal-key-0123456789abcdefghijkl';
const seconds = Number(process.env.BENCH_SECONDS ?? 10);

async function run(workers: number, port: number) {
  const schema = `bench_workers_${workers}`;
  const dir = mkdtempSync(join(tmpdir(), 'livehouse-bench-'));
  const config = join(dir, 'application.yaml');
  writeFileSync(
    config,
    `http:\n  host: 127.0.0.1\n  port: ${port}\n  adminPort: ${port + 1000}\ndatabase:\n  url: ${postgresUrl}\n  schema: ${schema}\n  migrateOnStart: true\n  poolSize: 10\nlog:\n  level: warn\n`,
  );
  const child = spawn(
    join(root, 'node_modules/.bin/node'),
    [join(root, 'packages/cli/src/main.ts'), 'serve', 'user', '--config', config, '--workers', String(workers)],
    {
      env: { ...process.env, LIVEHOUSE_INTERNAL_KEY: key },
      stdio: 'inherit',
    },
  );
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${port + 1000}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (i > 300) throw new Error('the service did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const token = await new InternalAuth(key).sign({ service: 'bff' });
    const ids = Array.from({ length: 50 }, () => randomUUID()).join(',');
    const result = await autocannon({
      url: `http://127.0.0.1:${port}/users?ids=${ids}`,
      headers: { authorization: `Bearer ${token}` },
      connections: 32,
      duration: seconds,
    });
    return {
      workers,
      rps: Math.round(result.requests.average),
      p99Ms: result.latency.p99,
      errors: result.errors + result.non2xx,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
}

const one = await run(1, 7701);
const two = await run(2, 7702);
const report = { seconds, one, two, ratio: Number((two.rps / one.rps).toFixed(2)) };
console.log(`1 worker : ${one.rps} req/s, p99 ${one.p99Ms} ms`);
console.log(`2 workers: ${two.rps} req/s, p99 ${two.p99Ms} ms  (×${report.ratio})`);
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/workers.json'), `${JSON.stringify(report, null, 2)}\n`);
