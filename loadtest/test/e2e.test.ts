import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Result } from '../src/result.ts';

const MAIN = new URL('../main.ts', import.meta.url).pathname;

function run(args: string[]) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run loadtest against the embedded platform', () => {
  let out: string;
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('when user is killed midway, then views degrade instead of failing, the ledger holds, and the report and exit code agree', async () => {
    out = await mkdtemp(join(tmpdir(), 'loadtest-e2e-'));
    const { code, output } = await run([
      '--users',
      '8',
      '--duration',
      '10s',
      '--kill',
      'user@4s',
      '--seed',
      '7',
      // Other test files share this machine: a required section slowed by them is not what this test is about.
      '--timeout-scale',
      '10',
      '--out',
      out,
    ]);
    expect([0, 1], output).toContain(code);
    const r = JSON.parse(await readFile(join(out, 'loadtest-result.json'), 'utf8')) as Result;

    expect(r.totals.requests).toBeGreaterThan(20);
    expect(r.totals.users.stuck).toBe(0);
    expect(r.endpoints.map((e) => e.endpoint)).toEqual(expect.arrayContaining(['GET /app/v1/streams/:id']));
    // The kill: sections served by user degrade (BFF metric), no view that can do without user fails.
    expect(r.kill).toMatchObject({ service: 'user', viewFailures: 0 });
    const userSections = Object.entries(r.degraded.metrics).filter(
      ([k, v]) => v > 0 && /streamer|following|viewerFollows|Profiles|streamers/.test(k),
    );
    expect(userSections.length, JSON.stringify(r.degraded.metrics)).toBeGreaterThan(0);
    expect(r.degraded.series.some((s) => Object.values(s.bySection).some((v) => v > 0))).toBe(true);
    // Every section the clients saw degraded was counted by the BFF too.
    for (const k of Object.keys(r.degraded.seenByClients)) expect(r.degraded.metrics[k]).toBeGreaterThan(0);

    expect(r.ledger).toMatchObject({ checked: true, ok: true, violations: [] });
    expect(r.sql.find((s) => s.service === 'contents')?.perRequest).toBeGreaterThan(0);
    expect(r.platform.samples.length).toBeGreaterThan(5);
    expect(code).toBe(r.verdict.pass ? 0 : 1);

    const html = await readFile(join(out, 'loadtest-report.html'), 'utf8');
    expect(html).toContain('livehouse load test');
    expect(html).toContain('user killed');
    const png = await readFile(join(out, 'loadtest-chart.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  }, 240_000);
});
