import { randomUUID } from 'node:crypto';
import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pointService } from '../src/index.ts';
import { admin, balanceOf, expectReconciled, historyOf, pointConfig, write } from './helpers.ts';

const USERS = 4;
const FEE_BPS = 1000;

type Command =
  | { t: 'purchase'; user: number; amount: number }
  | { t: 'spend'; from: number; offset: number; amount: number }
  | { t: 'refund'; pick: number }
  | { t: 'replay'; pick: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ t: fc.constant('purchase' as const), user: fc.nat(USERS - 1), amount: fc.integer({ min: 1, max: 200 }) }),
  fc.record({
    t: fc.constant('spend' as const),
    from: fc.nat(USERS - 1),
    offset: fc.integer({ min: 1, max: USERS - 1 }),
    amount: fc.integer({ min: 1, max: 150 }),
  }),
  fc.record({ t: fc.constant('refund' as const), pick: fc.nat() }),
  fc.record({ t: fc.constant('replay' as const), pick: fc.nat() }),
);

/** The plain model: balances, transfers and histories, written without looking at the service. */
interface ModelTransfer {
  id: string;
  kind: 'purchase' | 'spend';
  from: number | null;
  to: number;
  amount: number;
  fee: number;
  refunded: boolean;
}

describe.each(dbKinds)('point against a model on %s', (kind) => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startTestPlatform([pointService], kind, pointConfig({ platformFeeBps: FEE_BPS, receivingShards: 3 }));
  });
  afterAll(() => p?.close());

  it('when random purchases, spends, refunds and replays run, then balances and histories equal the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 25 }), async (commands) => {
        const users = Array.from({ length: USERS }, () => randomUUID());
        const balance = users.map(() => 0);
        const history: { transferId: string; kind: string; amount: number }[][] = users.map(() => []);
        const transfers: ModelTransfer[] = [];
        type As = { user: { id: string; roles?: 'admin'[] } } | { as: 'payment' };
        const sent: { path: string; body: unknown; who: As; key: string; answer: unknown }[] = [];
        const post = async (path: string, body: unknown, who: As) => {
          const key = randomUUID();
          const res = await write(p, path, body, { ...who, key });
          sent.push({ path, body, who, key, answer: res.body });
          return res;
        };

        for (const c of commands) {
          if (c.t === 'purchase') {
            const res = await post(
              '/purchases',
              { userId: users[c.user], paymentId: randomUUID(), amount: c.amount },
              { as: 'payment' },
            );
            expect(res.status).toBe(201);
            balance[c.user] = (balance[c.user] ?? 0) + c.amount;
            expect(res.body.balance).toBe(balance[c.user]);
            transfers.push({
              id: res.body.transferId,
              kind: 'purchase',
              from: null,
              to: c.user,
              amount: c.amount,
              fee: 0,
              refunded: false,
            });
            history[c.user]?.push({ transferId: res.body.transferId, kind: 'purchase', amount: c.amount });
          } else if (c.t === 'spend') {
            const to = (c.from + c.offset) % USERS;
            const body = { fromUserId: users[c.from], toUserId: users[to], amount: c.amount, reason: 'model' };
            const res = await post('/spends', body, { user: { id: users[c.from] as string } });
            if ((balance[c.from] ?? 0) < c.amount) {
              expect(res.status).toBe(409);
              expect(res.body.error.code).toBe('insufficient_points');
              continue;
            }
            expect(res.status).toBe(201);
            const fee = Math.floor((c.amount * FEE_BPS) / 10_000);
            expect(res.body.fee).toBe(fee);
            balance[c.from] = (balance[c.from] ?? 0) - c.amount;
            balance[to] = (balance[to] ?? 0) + c.amount - fee;
            expect(res.body.balance).toBe(balance[c.from]);
            transfers.push({
              id: res.body.transferId,
              kind: 'spend',
              from: c.from,
              to,
              amount: c.amount,
              fee,
              refunded: false,
            });
            history[c.from]?.push({ transferId: res.body.transferId, kind: 'spend', amount: -c.amount });
            if (c.amount > fee)
              history[to]?.push({ transferId: res.body.transferId, kind: 'receive', amount: c.amount - fee });
          } else if (c.t === 'refund') {
            const target = transfers[c.pick % Math.max(transfers.length, 1)];
            if (!target) continue;
            const res = await post(`/transfers/${target.id}/refund`, undefined, { user: admin });
            const takenBack = target.amount - target.fee;
            if (target.refunded) {
              expect(res.status).toBe(409);
              expect(res.body.error.code).toBe('already_refunded');
            } else if ((balance[target.to] ?? 0) < takenBack) {
              expect(res.status).toBe(409);
              expect(res.body.error.code).toBe('insufficient_points');
            } else {
              expect(res.status).toBe(201);
              target.refunded = true;
              balance[target.to] = (balance[target.to] ?? 0) - takenBack;
              history[target.to]?.push({ transferId: res.body.id, kind: 'refund', amount: -takenBack });
              if (target.from !== null) {
                balance[target.from] = (balance[target.from] ?? 0) + target.amount;
                history[target.from]?.push({ transferId: res.body.id, kind: 'refund', amount: target.amount });
              }
            }
          } else {
            // A retried request: the stored answer, whatever happened since, and nothing moves.
            const earlier = sent[c.pick % Math.max(sent.length, 1)];
            if (!earlier) continue;
            const res = await write(p, earlier.path, earlier.body, { ...earlier.who, key: earlier.key });
            expect(res.body).toEqual(earlier.answer);
          }
        }

        for (const [i, user] of users.entries()) {
          expect(await balanceOf(p, user)).toBe(balance[i]);
          const actual = (await historyOf(p, user)).map((e) => ({
            transferId: e.transferId,
            kind: e.kind,
            amount: e.amount,
          }));
          expect(actual).toEqual(history[i]);
        }
      }),
      { numRuns: 25 },
    );
    await expectReconciled(p);
  });
});
