import { randomUUID } from 'node:crypto';
import type { TestPlatform } from '@livehouse/kit/testing';
import { expect } from 'vitest';

export const admin = { id: '00000000-0000-4000-8000-00000000ad01', roles: ['admin' as const] };

/** Writes need an Idempotency-Key: a fresh one unless given. */
export function write(
  p: TestPlatform,
  path: string,
  body: unknown,
  options: { user?: { id: string; roles?: ('viewer' | 'streamer' | 'admin')[] }; as?: string; key?: string } = {},
) {
  return p.call('point', 'POST', path, {
    body,
    ...(options.user && { user: options.user }),
    ...(options.as && { as: options.as }),
    headers: { 'idempotency-key': options.key ?? randomUUID() },
  });
}

export async function purchase(p: TestPlatform, userId: string, amount: number) {
  const res = await write(p, '/purchases', { userId, paymentId: `pay_${randomUUID()}`, amount }, { as: 'payment' });
  expect(res.status).toBe(201);
  return res.body as { transferId: string; balance: number };
}

export function spend(p: TestPlatform, fromUserId: string, toUserId: string, amount: number, key?: string) {
  return write(
    p,
    '/spends',
    { fromUserId, toUserId, amount, reason: 'test' },
    { user: { id: fromUserId }, ...(key && { key }) },
  );
}

export async function balanceOf(p: TestPlatform, userId: string): Promise<number> {
  const res = await p.call('point', 'GET', `/wallets/${userId}`, { user: admin });
  expect(res.status).toBe(200);
  return res.body.balance;
}

/** Every history entry of a user, oldest first. */
export async function historyOf(p: TestPlatform, userId: string) {
  const items: { transferId: string; kind: string; amount: number }[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: { items: typeof items; nextCursor: string | null } } = await p.call(
      'point',
      'GET',
      `/wallets/${userId}/history?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      { user: admin },
    );
    expect(res.status).toBe(200);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items.reverse();
}

export async function expectReconciled(p: TestPlatform) {
  const res = await p.call('point', 'GET', '/admin/reconciliation', { as: 'ops' });
  expect(res.status).toBe(200);
  expect(res.body.violations).toEqual([]);
  expect(res.body.ok).toBe(true);
}

/** Small shard counts so that tests hit shared shards; the outbox relay polls slowly (nothing here consumes). */
export const pointConfig = (
  point: {
    platformFeeBps?: number;
    receivingShards?: number;
    systemShards?: number;
    reconcileIntervalMs?: number;
  } = {},
) => ({
  config: () => ({ point: { platformFeeBps: 1000, receivingShards: 4, systemShards: 4, ...point } }),
  relayPollMs: 500,
});
