import { auth, contents, IdempotencyRouteHeaders, payment, point, stamp, Text, user } from '@livehouse/contracts';
import { AppError, idempotencyKey, ifNoneMatch, type ServiceApp } from '@livehouse/kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Backends } from './backends.ts';

/** The end user of this request, or 401 token_missing. */
export function loggedIn(request: FastifyRequest) {
  const u = request.caller.user;
  if (!u) throw new AppError('token_missing', 'log in first: send "Authorization: Bearer <access token>"');
  return u;
}

/** A backend's stored answer to an earlier request with the same key stays marked as such. */
function markReplay(reply: FastifyReply, headers: Record<string, string | string[] | undefined>) {
  if (headers['idempotent-replayed'] === 'true') reply.header('idempotent-replayed', 'true');
}

const UserIdParams = Type.Object({ userId: user.IdParams.properties.id });
const BecomeStreamerBody = Type.Object(
  {
    title: Text({ minLength: 1, maxLength: 100 }),
    description: Type.Optional(Text({ maxLength: 2000 })),
    categoryId: Type.Optional(contents.IdParams.properties.id),
  },
  { additionalProperties: false },
);
const StartStreamBody = Type.Object(
  { title: Text({ minLength: 1, maxLength: 140 }), categoryId: Type.Optional(contents.IdParams.properties.id) },
  { additionalProperties: false },
);

/**
 * Commands clients send, passed to the owning service. Mounted under every client prefix
 * (/app/v1, /web/v1): commands are the same for all clients; views differ.
 */
export async function commandRoutes(app: ServiceApp, b: Backends) {
  const clientIp = (request: FastifyRequest) => ({ [auth.CLIENT_IP_HEADER]: request.ip });
  const tag = { tags: ['commands'] };

  app.post(
    '/auth/signup',
    { schema: { ...tag, body: auth.SignUpBody, response: { 201: auth.Session } } },
    async (request, reply) => {
      const session = await b.auth.signUp({ body: request.body, headers: clientIp(request) });
      return reply.code(201).send(session);
    },
  );

  app.post(
    '/auth/login',
    { schema: { ...tag, body: auth.LogInBody, response: { 200: auth.Session } } },
    async (request) => b.auth.logIn({ body: request.body, headers: clientIp(request) }),
  );

  app.post(
    '/auth/refresh',
    { schema: { ...tag, body: auth.RefreshBody, response: { 200: auth.Session } } },
    async (request) => b.auth.refresh({ body: request.body }),
  );

  const noContent = { 204: Type.Null({ description: 'Logged out: the refresh token and its session are revoked' }) };
  app.post(
    '/auth/logout',
    { schema: { ...tag, body: auth.RefreshBody, response: noContent } },
    async (request, reply) => {
      await b.auth.logOut({ body: request.body });
      // No body and so no content type: sent untyped, since the typed reply would serialize `null`.
      return (reply as FastifyReply).code(204).send();
    },
  );

  app.get('/me', { schema: { ...tag, response: { 200: user.Profile } } }, async (request) => {
    const me = loggedIn(request);
    return b.user.profile({ params: { id: me.id }, user: me });
  });

  app.patch(
    '/me',
    { schema: { ...tag, body: user.UpdateProfileBody, response: { 200: user.Profile } } },
    async (request) => {
      const me = loggedIn(request);
      return b.user.update({ params: { id: me.id }, body: request.body, user: me });
    },
  );

  for (const method of ['PUT', 'DELETE'] as const) {
    const route = { schema: { ...tag, params: UserIdParams, response: { 200: user.FollowState } } };
    const handler = async (request: FastifyRequest<{ Params: { userId: string } }>) => {
      const me = loggedIn(request);
      const input = { params: { id: me.id, targetId: request.params.userId }, user: me };
      return method === 'PUT' ? b.user.follow(input) : b.user.unfollow(input);
    };
    if (method === 'PUT') app.put('/me/following/:userId', route, handler);
    else app.delete('/me/following/:userId', route, handler);
  }

  // Public profiles by id, in one call (the web's chat names its posters with it).
  app.get(
    '/users',
    { schema: { ...tag, querystring: user.BatchQuery, response: { 200: user.ProfileList } } },
    async (request) => b.user.batch({ query: { ids: request.query.ids } }),
  );

  for (const direction of ['followers', 'following'] as const) {
    app.get(
      `/users/:id/${direction}`,
      {
        schema: {
          ...tag,
          params: user.IdParams,
          querystring: user.FollowListQuery,
          response: { 200: user.FollowPage },
        },
      },
      async (request) => b.user[direction]({ params: { id: request.params.id }, query: request.query }),
    );
  }

  // Become a streamer: one outcome, the channel. Contents creates it first (it validates everything and
  // may refuse); only then is the streamer role granted, at once so that the client's next token refresh
  // carries it. The role also follows from the channel.created event that auth consumes (outbox, applied
  // once), so a failed or lost grant here is repaired: never a streamer without a channel, nor the reverse.
  app.post(
    '/me/channel',
    { schema: { ...tag, body: BecomeStreamerBody, response: { 201: contents.CreatedChannel } } },
    async (request, reply) => {
      const me = loggedIn(request);
      const asStreamer = { ...me, roles: [...new Set([...me.roles, 'streamer' as const])] };
      const created = await b.contents.createChannel({ body: request.body, user: asStreamer });
      if (!me.roles.includes('streamer') && !me.roles.includes('admin')) {
        await b.auth
          .grantRole({ params: { id: me.id, role: 'streamer' }, user: me })
          .catch((err: unknown) => request.log.warn({ err }, 'streamer role not granted now: the event will'));
      }
      return reply.code(201).send(created);
    },
  );

  // A new stream key for the caller's channel, shown once; the old one stops working at once.
  app.post('/me/channel/stream-key', { schema: { ...tag, response: { 200: contents.StreamKey } } }, async (request) => {
    const me = loggedIn(request);
    const channel = await b.contents.channelOf({ params: { userId: me.id }, user: me });
    return b.contents.newStreamKey({ params: { id: channel.id }, user: me });
  });

  // Go live: a stream on the caller's channel, started at once.
  app.post(
    '/me/streams',
    { schema: { ...tag, body: StartStreamBody, response: { 201: contents.Stream } } },
    async (request, reply) => {
      const me = loggedIn(request);
      const channel = await b.contents.channelOf({ params: { userId: me.id }, user: me });
      const created = await b.contents.createStream({ params: { id: channel.id }, body: request.body, user: me });
      const started = await b.contents.startStream({ params: { id: created.id }, user: me });
      return reply.code(201).send(started);
    },
  );

  app.post(
    '/streams/:id/end',
    { schema: { ...tag, params: contents.IdParams, response: { 200: contents.Stream } } },
    async (request) => {
      const me = loggedIn(request);
      return b.contents.endStream({ params: { id: request.params.id }, user: me });
    },
  );

  // Buying points: the client opens a checkout and sends the buyer to its `url` (the provider's page).
  // The points arrive when the provider's signed webhook says it was paid; no client route credits points.
  app.get('/me/points/packs', { schema: { ...tag, response: { 200: payment.Packs } } }, async (request) => {
    const me = loggedIn(request);
    return b.payment.packs({ user: me });
  });

  app.post(
    '/me/points/checkouts',
    {
      schema: {
        ...tag,
        headers: IdempotencyRouteHeaders,
        body: payment.CheckoutBody,
        response: { 201: payment.Checkout },
      },
    },
    async (request, reply) => {
      const me = loggedIn(request);
      // Writes that move points carry a client-chosen key, so a retry never charges twice.
      const key = idempotencyKey(request.headers);
      const checkout = await b.payment.openCheckout({
        body: request.body,
        user: me,
        headers: { 'idempotency-key': key },
      });
      return reply.code(201).send(checkout);
    },
  );

  app.get(
    '/me/points/checkouts/:id',
    { schema: { ...tag, params: payment.CheckoutParams, response: { 200: payment.Checkout } } },
    async (request) => {
      const me = loggedIn(request);
      return b.payment.checkout({ params: { id: request.params.id }, user: me });
    },
  );

  app.get(
    '/me/points/history',
    { schema: { ...tag, querystring: point.HistoryQuery, response: { 200: point.HistoryPage } } },
    async (request) => {
      const me = loggedIn(request);
      return b.point.history({ params: { userId: me.id }, query: request.query, user: me });
    },
  );

  app.get('/me/points', { schema: { ...tag, response: { 200: point.Wallet } } }, async (request) => {
    const me = loggedIn(request);
    return b.point.wallet({ params: { userId: me.id }, user: me });
  });

  app.post(
    '/streams/:streamId/stamps',
    {
      schema: {
        ...tag,
        headers: IdempotencyRouteHeaders,
        params: stamp.StreamParams,
        body: stamp.SendStampBody,
        response: { 201: stamp.SentStamp },
      },
    },
    async (request, reply) => {
      const me = loggedIn(request);
      // Writes that move points carry a client-chosen key, so a retry never charges twice.
      const key = idempotencyKey(request.headers);
      const res = await b.stamp.send.result({
        params: { streamId: request.params.streamId },
        body: request.body,
        user: me,
        headers: { 'idempotency-key': key },
      });
      markReplay(reply, res.headers);
      return reply.code(201).send(res.body);
    },
  );

  // Clients fetch the catalog once: its version is the ETag, and a matching If-None-Match gets 304.
  app.get(
    '/stamps/catalog',
    {
      schema: {
        ...tag,
        response: { 200: stamp.Catalog, 304: Type.Null({ description: 'Not modified: your copy is current' }) },
      },
    },
    async (request, reply) => {
      const catalog = await b.stamp.catalog();
      const etag = `"${catalog.version}"`;
      reply.header('etag', etag).header('cache-control', 'public, max-age=60');
      // A 304 has no body, so no content type either (RFC 9110 §15.4.5): sent untyped, not as JSON `null`.
      if (ifNoneMatch(request.headers['if-none-match'], etag)) return (reply as FastifyReply).code(304).send();
      return catalog;
    },
  );
}

/**
 * The payment provider's webhooks: public, unauthenticated, verified by payment over the raw body.
 * Mounted at the root (not per client). The body is kept as text — parsed and re-serialized JSON
 * would no longer match its signature — and only the signature header goes along.
 */
export async function webhookRoutes(app: ServiceApp, b: Backends) {
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 262_144 }, (_request, body, done) =>
    done(null, body),
  );
  app.post(
    '/webhooks/stripe',
    {
      schema: {
        tags: ['webhooks'],
        headers: Type.Object({ 'stripe-signature': Type.Optional(Type.String()) }),
        response: { 200: payment.WebhookReceipt },
      },
    },
    async (request) => {
      const signature = request.headers['stripe-signature'];
      if (typeof signature !== 'string' || signature.length === 0 || signature.length > 4096) {
        throw new AppError('webhook_signature_invalid', 'send the Stripe-Signature header the provider signed');
      }
      if (typeof request.body !== 'string') throw new AppError('bad_request', 'the webhook body must be JSON');
      return b.payment.stripeWebhook({ body: { payload: request.body, signature } });
    },
  );
}
