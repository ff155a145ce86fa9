/**
 * `npm run bench:workers`: does `livehouse serve --workers 2` use both cores? The same service (user,
 * on the real PostgreSQL) with 1 and then 2 workers, autocannon on the batch lookup, side by side.
 * Writes bench/results/workers.json. PostgreSQL and autocannon run on the same two cores, so 2× is out
 * of reach here; the service-only request shows what the workers themselves add.
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

interface Measured {
  rps: number;
  p99Ms: number;
  errors: number;
}

async function run(
  workers: number,
  port: number,
): Promise<{ workers: number; database: Measured; serviceOnly: Measured }> {
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
    const measure = async (path: string): Promise<Measured> => {
      const result = await autocannon({
        url: `http://127.0.0.1:${port}${path}`,
        headers: { authorization: `Bearer ${token}` },
        connections: 32,
        duration: seconds,
      });
      return { rps: Math.round(result.requests.average), p99Ms: result.latency.p99, errors: result.errors };
    };
    // With the database: a batch lookup (PostgreSQL shares the two cores). Without: a request the
    // service answers on its own (token check, validation, error answer): the part workers multiply.
    return {
      workers,
      database: await measure(`/users?ids=${ids}`),
      serviceOnly: await measure('/users/by-handle/NOT_A_HANDLE'),
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
const ratio = (k: 'database' | 'serviceOnly') => Number((two[k].rps / one[k].rps).toFixed(2));
const report = { seconds, one, two, ratio: { database: ratio('database'), serviceOnly: ratio('serviceOnly') } };
for (const k of ['database', 'serviceOnly'] as const) {
  console.log(
    `${k.padEnd(12)} 1 worker ${one[k].rps} req/s (p99 ${one[k].p99Ms} ms)   2 workers ${two[k].rps} req/s (p99 ${two[k].p99Ms} ms)   ×${report.ratio[k]}`,
  );
}
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/workers.json'), `${JSON.stringify(report, null, 2)}\n`);
