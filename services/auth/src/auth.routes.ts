import { auth } from '@livehouse/contracts';
import type { ServiceApp } from '@livehouse/kit';
import type { FastifyRequest } from 'fastify';
import type { AuthService } from './auth.service.ts';

/** The end user's address as the BFF forwards it (absent when another service calls). */
function clientIp(request: FastifyRequest) {
  const ip = request.headers[auth.CLIENT_IP_HEADER];
  return typeof ip === 'string' && ip.length <= 64 ? ip : undefined;
}

/** Internal API; callers are normally the BFF, which forwards the end user's IP for login limits. */
export async function authRoutes(app: ServiceApp, service: AuthService, jwks: auth.Jwks) {
  app.post(
    '/accounts',
    { schema: { body: auth.SignUpBody, response: { 201: auth.Session } } },
    async (request, reply) => reply.code(201).send(await service.signUp(request.body, clientIp(request))),
  );

  app.post('/sessions', { schema: { body: auth.LogInBody, response: { 200: auth.Session } } }, async (request) =>
    service.logIn(request.body, clientIp(request)),
  );

  app.post('/sessions/refresh', { schema: { body: auth.RefreshBody, response: { 200: auth.Session } } }, (request) =>
    service.refresh(request.body.refreshToken),
  );

  app.post('/sessions/logout', { schema: { body: auth.RefreshBody } }, async (request, reply) => {
    await service.logOut(request.body.refreshToken);
    return reply.code(204).send();
  });

  app.get('/.well-known/jwks.json', { schema: { response: { 200: auth.Jwks } } }, async () => jwks);

  app.get('/accounts/:id', { schema: { params: auth.AccountParams, response: { 200: auth.Account } } }, (request) =>
    service.getAccount(request.caller, request.params.id),
  );

  app.put(
    '/accounts/:id/roles/:role',
    { schema: { params: auth.RoleParams, response: { 200: auth.Account } } },
    (request) => service.grantRole(request.caller, request.params.id, request.params.role),
  );
}
