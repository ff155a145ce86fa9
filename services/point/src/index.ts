import { defineService } from '@livehouse/kit';
import { Type } from 'typebox';
import type { PointDatabase } from './db.ts';
import { ledgerRoutes } from './ledger.routes.ts';
import { createLedger } from './ledger.service.ts';
import * as ledger from './migrations/0001_ledger.ts';
import * as reversals from './migrations/0002_reversals.ts';
import { startReconciliation } from './reconciliation.service.ts';

export const pointConfig = {
  point: Type.Object(
    {
      /** The platform's share of every spend, in basis points (1000 = 10 %); rounded down. */
      platformFeeBps: Type.Integer({ minimum: 0, maximum: 10_000, default: 1000 }),
      /** Receiving shards per account: how many spends to one streamer can commit at once. */
      receivingShards: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
      /** Shards of the system accounts: every spend credits revenue, so it is the hottest account of all. */
      systemShards: Type.Integer({ minimum: 1, maximum: 1024, default: 32 }),
      /** How often each pod reconciles the whole ledger (read-only, one snapshot) for its metrics and alert. */
      reconcileIntervalMs: Type.Integer({ minimum: 100, default: 300_000 }),
    },
    { default: {}, additionalProperties: false },
  ),
};

/** Wallets on a double-entry ledger: purchases, spends, refunds, history, reconciliation. */
export const pointService = defineService<typeof pointConfig, PointDatabase>({
  name: 'point',
  config: pointConfig,
  migrations: { '0001_ledger': ledger, '0002_reversals': reversals },
  dependsOn: [],
  produces: ['points.purchased', 'points.spent', 'points.refunded'],
  routes: async (app, ctx) => {
    const ledger = createLedger(ctx.db, {
      feeBps: ctx.config.point.platformFeeBps,
      shards: ctx.config.point.receivingShards,
      systemShards: ctx.config.point.systemShards,
    });
    await ledgerRoutes(app, ctx.db, ledger);
  },
  background: async (ctx) =>
    startReconciliation(ctx.db, {
      intervalMs: ctx.config.point.reconcileIntervalMs,
      registry: ctx.metrics.registry,
      log: ctx.log,
    }),
});
