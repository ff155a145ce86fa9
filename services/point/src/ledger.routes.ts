import { point } from '@livehouse/contracts';
import {
  AppError,
  type Caller,
  decodeCursor,
  forbidden,
  notFound,
  requireSelfOrAdmin,
  requireService,
  type ServiceApp,
  toPage,
} from '@livehouse/kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { PointDatabase } from './db.ts';
import { type Answer, idempotentRequest } from './idempotency.ts';
import * as repo from './ledger.repository.ts';
import type { Ledger } from './ledger.service.ts';
import { reconcile } from './reconciliation.service.ts';

const isAdmin = (caller: Caller) => caller.user?.roles.includes('admin') ?? false;

/** The key, scope and request hash of a write; 400 without an Idempotency-Key. */
function keyOf(request: FastifyRequest) {
  return idempotentRequest(request.caller, request.headers['idempotency-key'], {
    method: request.method,
    path: request.url.split('?')[0] as string,
    body: request.body,
    requestId: request.id,
  });
}

function send(reply: FastifyReply, answer: Answer) {
  if (answer.replayed) reply.header('idempotent-replayed', 'true');
  return reply.code(answer.status).send(answer.body);
}

export async function ledgerRoutes(app: ServiceApp, db: Kysely<PointDatabase>, ledger: Ledger) {
  // Points enter the ledger only from a payment the provider settled: only the payment service
  // (which verified the provider's signed webhook) may say so. No user, not even an admin.
  app.post(
    '/purchases',
    { schema: { body: point.PurchaseBody, response: { 201: point.Purchase } } },
    async (request, reply) => {
      if (request.caller.service !== 'payment' || request.caller.user) {
        throw forbidden('points are credited only by the payment service, from a verified provider event');
      }
      const key = keyOf(request);
      const body = { ...request.body, userId: request.body.userId.toLowerCase() };
      return send(reply, await ledger.purchase(key, body));
    },
  );

  // The provider refunded a payment or lost a dispute over it: payment brings the purchase's reversal up to `total`.
  app.post(
    '/transfers/:id/reversals',
    { schema: { params: point.TransferParams, body: point.ReversalBody, response: { 201: point.Reversal } } },
    async (request, reply) => {
      requireService(request.caller, 'payment');
      const key = keyOf(request);
      return send(reply, await ledger.reverse(key, request.params.id.toLowerCase(), request.body));
    },
  );

  // An admin settles a user's debt: collect what the wallet holds now, or write it off.
  app.post(
    '/wallets/:userId/debt/settlements',
    {
      schema: { params: point.WalletParams, body: point.SettleDebtBody, response: { 201: point.DebtSettlement } },
    },
    async (request, reply) => {
      const key = keyOf(request);
      if (!isAdmin(request.caller)) throw forbidden('only an admin may settle a debt');
      return send(reply, await ledger.settleDebt(key, request.params.userId.toLowerCase(), request.body.method));
    },
  );

  // The payer themself, or the stamp service acting for them.
  app.post('/spends', { schema: { body: point.SpendBody, response: { 201: point.Spend } } }, async (request, reply) => {
    const key = keyOf(request);
    const body = {
      ...request.body,
      fromUserId: request.body.fromUserId.toLowerCase(),
      toUserId: request.body.toUserId.toLowerCase(),
    };
    const { caller } = request;
    if (caller.user ? caller.user.id !== body.fromUserId : caller.service !== 'stamp') {
      throw forbidden('only the payer (or the stamp service for them) may spend their points');
    }
    if (body.fromUserId === body.toUserId) throw new AppError('bad_request', 'you cannot pay yourself');
    return send(reply, await ledger.spend(key, body));
  });

  app.post(
    '/transfers/:id/refund',
    { schema: { params: point.TransferParams, response: { 201: point.Transfer } } },
    async (request, reply) => {
      const key = keyOf(request);
      if (!isAdmin(request.caller)) throw forbidden('only an admin may refund a transfer');
      return send(reply, await ledger.refund(key, request.params.id.toLowerCase()));
    },
  );

  app.get(
    '/transfers/:id',
    { schema: { params: point.TransferParams, response: { 200: point.Transfer } } },
    async (request) => {
      const row = await repo.findTransfer(db, request.params.id.toLowerCase());
      const user = request.caller.user;
      if (!row || (user && !isAdmin(request.caller) && user.id !== row.from_user && user.id !== row.to_user)) {
        throw notFound('the transfer');
      }
      return {
        id: row.id,
        kind: row.kind as point.TransferKind,
        fromUserId: row.from_user,
        toUserId: row.to_user,
        amount: row.amount,
        fee: row.fee,
        reason: row.reason,
        reference: row.reference,
        paymentId: row.payment_id,
        refundOf: row.refund_of,
        refundedBy: row.refunded_by,
        createdAt: row.created_at.toISOString(),
      };
    },
  );

  // Every user implicitly has a wallet: an unknown one holds 0. One statement.
  app.get(
    '/wallets/:userId',
    { schema: { params: point.WalletParams, response: { 200: point.Wallet } } },
    async (request) => {
      const userId = request.params.userId.toLowerCase();
      if (request.caller.user) requireSelfOrAdmin(request.caller, userId);
      return { userId, ...(await repo.walletState(db, userId)) };
    },
  );

  // Newest first; one statement per page whatever its size.
  app.get(
    '/wallets/:userId/history',
    { schema: { params: point.WalletParams, querystring: point.HistoryQuery, response: { 200: point.HistoryPage } } },
    async (request) => {
      const userId = request.params.userId.toLowerCase();
      requireSelfOrAdmin(request.caller, userId);
      const limit = request.query.limit ?? 20;
      const before = decodeCursor(request.query.cursor, ['int'])?.[0];
      const rows = await repo.historyPage(db, userId, limit, before);
      const page = toPage(rows, limit, (r) => [r.id]);
      return {
        items: page.items.map((r) => ({
          transferId: r.transfer_id,
          kind: r.kind,
          amount: r.amount,
          fee: r.fee,
          counterpartyId: r.counterparty_id,
          reason: r.reason,
          reference: r.reference,
          refundOf: r.refund_of,
          createdAt: r.created_at.toISOString(),
        })),
        nextCursor: page.nextCursor,
      };
    },
  );

  // For payment's reconciliation: what the provider's events caused in the ledger. One statement.
  app.get('/admin/provider-totals', { schema: { response: { 200: point.ProviderTotals } } }, async (request) => {
    if (request.caller.user && !isAdmin(request.caller)) throw forbidden('only an admin or a service may reconcile');
    const t = await repo.providerTotals(db);
    return {
      purchases: { count: Number(t.purchaseCount), points: Number(t.purchasePoints) },
      reversals: { count: Number(t.reversalCount), points: Number(t.reversalPoints) },
    };
  });

  app.get('/admin/reconciliation', { schema: { response: { 200: point.Reconciliation } } }, async (request) => {
    if (request.caller.user && !isAdmin(request.caller)) throw forbidden('only an admin or a service may reconcile');
    return reconcile(db);
  });
}
