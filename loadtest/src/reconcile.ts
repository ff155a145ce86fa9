import type { point } from '@livehouse/contracts';
import { InternalAuth } from '@livehouse/kit';
import type { Target } from './platform.ts';

export type LedgerCheck =
  | { checked: true; ok: boolean; checkedAt: string; violations: point.Violation[] }
  | { checked: false; reason: string };

/**
 * The point service's own reconciliation (every ledger invariant on one snapshot), asked as an
 * admin with an internal token, as `livehouse seed` talks to services.
 */
export async function checkLedger(ledger: Target['ledger']): Promise<LedgerCheck> {
  if ('unavailable' in ledger) return { checked: false, reason: ledger.unavailable };
  const auth = new InternalAuth(ledger.internalKey);
  const token = await auth.sign({
    service: 'loadtest',
    user: { id: '00000000-0000-4000-8000-000000000000', roles: ['admin'] },
  });
  try {
    const res = await fetch(`${ledger.pointUrl}/admin/reconciliation`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(60_000),
    });
    if (!res.ok) return { checked: false, reason: `point answered ${res.status}: ${await res.text()}` };
    const body = (await res.json()) as point.Reconciliation;
    return { checked: true, ok: body.ok, checkedAt: body.checkedAt, violations: body.violations };
  } catch (err) {
    return { checked: false, reason: `point did not answer: ${(err as Error).message}` };
  }
}
