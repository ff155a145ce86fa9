import { auth, user } from '@livehouse/contracts';
import { AppError, type ServiceApp, type ServiceClient } from '@livehouse/kit';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';

/** The end user of this request, or 401 token_missing. */
export function loggedIn(request: FastifyRequest) {
  const u = request.caller.user;
  if (!u) throw new AppError('token_missing', 'log in first: send "Authorization: Bearer <access token>"');
  return u;
}

/**
 * Commands clients send, passed to the owning service. Mounted under every client prefix
 * (/app/v1, /web/v1): commands are the same for all clients, views differ.
 */
export async function commandRoutes(app: ServiceApp, clients: { auth: ServiceClient; user: ServiceClient }) {
  const clientIp = (request: FastifyRequest) => ({ [auth.CLIENT_IP_HEADER]: request.ip });

  app.post(
    '/auth/signup',
    { schema: { body: auth.SignUpBody, response: { 201: auth.Session } } },
    async (request, reply) => {
      const res = await clients.auth.call<auth.Session>('POST', '/accounts', {
        body: request.body,
        headers: clientIp(request),
      });
      return reply.code(201).send(res.body);
    },
  );

  app.post('/auth/login', { schema: { body: auth.LogInBody, response: { 200: auth.Session } } }, async (request) =>
    clients.auth
      .call<auth.Session>('POST', '/sessions', { body: request.body, headers: clientIp(request) })
      .then((r) => r.body),
  );

  app.post('/auth/refresh', { schema: { body: auth.RefreshBody, response: { 200: auth.Session } } }, async (request) =>
    clients.auth.call<auth.Session>('POST', '/sessions/refresh', { body: request.body }).then((r) => r.body),
  );

  app.post('/auth/logout', { schema: { body: auth.RefreshBody } }, async (request, reply) => {
    await clients.auth.call('POST', '/sessions/logout', { body: request.body });
    return reply.code(204).send();
  });

  app.get('/me', { schema: { response: { 200: user.Profile } } }, async (request) => {
    const me = loggedIn(request);
    return clients.user.get<user.Profile>(`/users/${me.id}`, { user: me });
  });

  app.patch('/me', { schema: { body: user.UpdateProfileBody, response: { 200: user.Profile } } }, async (request) => {
    const me = loggedIn(request);
    return (await clients.user.call<user.Profile>('PATCH', `/users/${me.id}`, { body: request.body, user: me })).body;
  });

  app.get('/users/:id', { schema: { params: user.IdParams, response: { 200: user.Profile } } }, async (request) =>
    clients.user.get<user.Profile>(`/users/${request.params.id}`, {
      ...(request.caller.user && { user: request.caller.user }),
    }),
  );

  const FollowTarget = Type.Object({ userId: user.IdParams.properties.id });
  app.put(
    '/me/following/:userId',
    { schema: { params: FollowTarget, response: { 200: user.FollowState } } },
    async (request) => {
      const me = loggedIn(request);
      return (
        await clients.user.call<user.FollowState>('PUT', `/users/${me.id}/following/${request.params.userId}`, {
          user: me,
        })
      ).body;
    },
  );

  app.delete(
    '/me/following/:userId',
    { schema: { params: FollowTarget, response: { 200: user.FollowState } } },
    async (request) => {
      const me = loggedIn(request);
      return (
        await clients.user.call<user.FollowState>('DELETE', `/users/${me.id}/following/${request.params.userId}`, {
          user: me,
        })
      ).body;
    },
  );

  for (const direction of ['followers', 'following'] as const) {
    app.get(
      `/users/:id/${direction}`,
      { schema: { params: user.IdParams, querystring: user.FollowListQuery, response: { 200: user.FollowPage } } },
      async (request) =>
        clients.user.get<user.FollowPage>(`/users/${request.params.id}/${direction}`, { query: request.query }),
    );
  }
}
