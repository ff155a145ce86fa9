import { IdempotencyRouteHeaders, payment } from '@livehouse/contracts';
import { forbidden, idempotencyKey, requireService, requireUser, type ServiceApp } from '@livehouse/kit';
import type { Payments } from './payment.service.ts';

export async function paymentRoutes(app: ServiceApp, payments: Payments) {
  app.get('/packs', { schema: { response: { 200: payment.Packs } } }, async () => ({ items: payments.packs() }));

  // A buyer opens a checkout for a pack; the answer's `url` is the provider's payment page.
  app.post(
    '/checkouts',
    {
      schema: {
        headers: IdempotencyRouteHeaders,
        body: payment.CheckoutBody,
        response: { 201: payment.Checkout },
      },
    },
    async (request, reply) => {
      const user = requireUser(request.caller);
      const key = idempotencyKey(request.headers);
      return reply.code(201).send(await payments.createCheckout(user, request.body.packId, key));
    },
  );

  app.get(
    '/checkouts/:id',
    { schema: { params: payment.CheckoutParams, response: { 200: payment.Checkout } } },
    async (request) => payments.getCheckout(request.caller, request.params.id),
  );

  // The provider's webhook, forwarded untouched by the BFF (the only public entry).
  app.post(
    '/webhooks/stripe',
    { schema: { body: payment.WebhookForward, response: { 200: payment.WebhookReceipt } } },
    async (request) => {
      requireService(request.caller, 'bff');
      return payments.receive(request.body.payload, request.body.signature);
    },
  );

  app.get(
    '/admin/reconciliation',
    { schema: { response: { 200: payment.ProviderReconciliation } } },
    async (request) => {
      const user = request.caller.user;
      if (user && !user.roles.includes('admin')) throw forbidden('only an admin or a service may reconcile');
      return payments.reconcile();
    },
  );
}
