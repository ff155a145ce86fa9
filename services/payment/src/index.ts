import { ConfigError, defineService, type ServiceConfig } from '@livehouse/kit';
import Stripe from 'stripe';
import { Type } from 'typebox';
import type { PaymentDatabase } from './db.ts';
import { LocalProvider } from './local-provider.ts';
import * as init from './migrations/0001_payment.ts';
import { paymentRoutes } from './payment.routes.ts';
import { createPayments } from './payment.service.ts';

const Pack = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9_-]{1,32}$' }),
    points: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    /** In the currency's smallest unit (JPY: yen). */
    price: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);

export const paymentConfig = {
  payment: Type.Object(
    {
      /**
       * `stripe`: the real provider (LIVEHOUSE_STRIPE_API_KEY, LIVEHOUSE_STRIPE_WEBHOOK_SECRET). `local`: an
       * in-process stand-in that sends the same signed webhooks; only in embedded mode (`livehouse up`, tests).
       * Unset: `local` in embedded mode, `stripe` otherwise.
       */
      provider: Type.Optional(Type.Union([Type.Literal('stripe'), Type.Literal('local')])),
      currency: Type.String({ pattern: '^[a-z]{3}$', default: 'jpy' }),
      packs: Type.Array(Pack, {
        minItems: 1,
        default: [
          { id: 'p100', points: 100, price: 120 },
          { id: 'p500', points: 500, price: 600 },
          { id: 'p1200', points: 1200, price: 1400 },
          { id: 'p5000', points: 5000, price: 5600 },
        ],
      }),
      /** Where the provider's page sends the buyer back; Stripe fills {CHECKOUT_SESSION_ID}. */
      successUrl: Type.String({
        pattern: '^https?://',
        default: 'http://127.0.0.1:8080/web/v1/me/points/checkouts/{CHECKOUT_SESSION_ID}',
      }),
      cancelUrl: Type.String({ pattern: '^https?://', default: 'http://127.0.0.1:8080/web/v1/me/points' }),
      /** Webhooks signed longer ago than this are refused (Stripe's default tolerance). */
      webhookToleranceSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 300 }),
      /** The provider's API (tests and stripe-mock point it elsewhere); default api.stripe.com. */
      api: Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1 })),
          port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          protocol: Type.Optional(Type.Union([Type.Literal('http'), Type.Literal('https')])),
        },
        { default: {}, additionalProperties: false },
      ),
      local: Type.Object(
        {
          host: Type.String({ default: '127.0.0.1' }),
          port: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
          /** The platform's public webhook route that the local provider delivers to. */
          webhookUrl: Type.String({ pattern: '^https?://', default: 'http://127.0.0.1:8080/webhooks/stripe' }),
        },
        { default: {}, additionalProperties: false },
      ),
    },
    { default: {}, additionalProperties: false },
  ),
};

/**
 * What the schema cannot say: the local provider only in embedded mode, and the provider's secrets from
 * the environment. Throws one ConfigError naming every problem (the service then does not start).
 */
export function checkPaymentConfig(config: ServiceConfig<typeof paymentConfig>) {
  const { secrets } = config;
  const problems: string[] = [];
  // `shared://` is what `startPlatform` (livehouse up, tests) hands its services: a pod never has it.
  const embedded = config.database?.url === 'shared://';
  const provider = config.payment.provider ?? (embedded ? 'local' : 'stripe');
  if (provider === 'local' && !embedded) {
    problems.push('payment.provider: local is only for embedded mode (livehouse up); use stripe');
  }
  if (!secrets.stripeWebhookSecret) problems.push('LIVEHOUSE_STRIPE_WEBHOOK_SECRET (environment) is required');
  if (provider === 'stripe' && !secrets.stripeApiKey) {
    problems.push('LIVEHOUSE_STRIPE_API_KEY (environment) is required');
  }
  if (problems.length > 0) throw new ConfigError('payment', problems);
  return {
    provider,
    webhookSecret: secrets.stripeWebhookSecret as string,
    apiKey: secrets.stripeApiKey ?? 'sk_test_local',
  };
}

/** Points sold through the payment provider: checkouts out, signed webhooks in, purchases into point. */
export const paymentService = defineService<typeof paymentConfig, PaymentDatabase>({
  name: 'payment',
  config: paymentConfig,
  migrations: { '0001_payment': init },
  dependsOn: ['point'],
  routes: async (app, ctx) => {
    const own = ctx.config.payment;
    const { provider, webhookSecret, apiKey } = checkPaymentConfig(ctx.config);

    let api = own.api;
    if (provider === 'local') {
      const local = new LocalProvider({ ...own.local, apiKey, webhookSecret });
      const at = await local.listen();
      api = { host: at.host, port: at.port, protocol: 'http' };
      app.addHook('onClose', () => local.close());
      ctx.log.info({ url: local.baseUrl }, 'local payment provider (embedded mode): checkouts are paid at their url');
    }
    const stripe = new Stripe(apiKey, { ...api, maxNetworkRetries: 2, timeout: 10_000, telemetry: false });
    const point = ctx.clients.point;
    const payments = createPayments({
      db: ctx.db,
      stripe,
      point,
      packs: own.packs.map((p) => ({ ...p, currency: own.currency })),
      successUrl: own.successUrl,
      cancelUrl: own.cancelUrl,
      webhookSecret,
      toleranceSeconds: own.webhookToleranceSeconds,
      log: ctx.log,
    });
    await paymentRoutes(app, payments);
  },
});

export { LocalProvider } from './local-provider.ts';
