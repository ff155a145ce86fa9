import { randomUUID } from 'node:crypto';
import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { Kysely, sql, WithSchemaPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PointDatabase } from '../src/db.ts';
import { pointService } from '../src/index.ts';
import { INVARIANTS } from '../src/reconciliation.service.ts';
import { pointConfig, purchase } from './helpers.ts';

/** The reconciliation's series on point's live /metrics. */
async function scrape(p: TestPlatform) {
  const text = await (await fetch(`${p.services.get('point')?.adminUrl}/metrics`)).text();
  const mismatches = new Map<string, number>();
  for (const m of text.matchAll(/^livehouse_ledger_reconciliation_mismatches\{([^}]*)\} (\S+)$/gm)) {
    const invariant = /invariant="([^"]+)"/.exec(m[1] as string)?.[1] as string;
    mismatches.set(invariant, Number(m[2]));
  }
  const lastRun = /^livehouse_ledger_reconciliation_last_run_timestamp_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
  return { mismatches, lastRun: lastRun === undefined ? undefined : Number(lastRun) };
}

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

// Ledger reconciliation as a metric (issue 13, item 14): point reconciles on its own, and the alert reads the result.
describe.each(dbKinds)('ledger reconciliation metrics on %s', (kind) => {
  let p: TestPlatform;
  let db: Kysely<PointDatabase>;
  beforeAll(async () => {
    p = await startTestPlatform([pointService], kind, pointConfig({ reconcileIntervalMs: 100 }));
    db = new Kysely<PointDatabase>({
      dialect: p.backend.backend.dialect(),
      plugins: [new WithSchemaPlugin(`${p.backend.schemaPrefix}point`)],
    });
  });
  afterAll(() => p?.close());

  it('when the ledger is clean, then every invariant reads 0 and the last run moves on; when a balance is tampered with, then its invariant counts it until it is repaired', async () => {
    const user = randomUUID();
    await purchase(p, user, 500);
    const clean = await until(
      'a clean run',
      () => scrape(p),
      (s) => s.lastRun !== undefined && s.mismatches.size === INVARIANTS.length && total(s.mismatches) === 0,
    );
    expect([...clean.mismatches.keys()].sort()).toEqual([...INVARIANTS].sort());
    expect(clean.lastRun).toBeGreaterThan(Date.now() / 1000 - 60);
    await until(
      'a later run',
      () => scrape(p),
      (s) => (s.lastRun ?? 0) > (clean.lastRun ?? 0),
    );

    // A cached balance that no longer equals its postings (what a bug in a transfer would leave).
    const tamper = (delta: number) =>
      db
        .updateTable('accounts')
        .set({ balance: sql`balance + ${delta}` })
        .where('owner', '=', user)
        .where('balance', '>', 0)
        .execute();
    await tamper(7);
    const broken = await until(
      'the tampered balance counted',
      () => scrape(p),
      (s) => (s.mismatches.get('balances_match_postings') ?? 0) > 0,
    );
    expect(broken.mismatches.get('balances_match_postings')).toBe(1);

    await tamper(-7);
    await until(
      'a clean run again',
      () => scrape(p),
      (s) => total(s.mismatches) === 0,
    );
  });
});
