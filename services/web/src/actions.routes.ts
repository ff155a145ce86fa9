import { type auth, contents, payment, type stamp } from '@livehouse/contracts';
import { AppError, type ServiceApp } from '@livehouse/kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type TProperties, Type } from 'typebox';
import type { StreamView } from '../client/lib/views.ts';
import { type BffAnswer, bffError, type ErrorBody } from './bff.ts';
import { safeBack } from './locale.ts';
import { dashboardState, forwarded } from './pages.routes.ts';
import type { WebContext } from './plugin.ts';
import { REFRESH_COOKIE } from './session.ts';

const Form = <P extends TProperties>(props: P) =>
  Type.Object({ _csrf: Type.Optional(Type.String({ maxLength: 200 })), ...props }, { additionalProperties: false });
const Text = (maxLength: number) => Type.String({ maxLength });
/** The BFF's Idempotency-Key form. */
const IDEMPOTENCY_KEY = '^[A-Za-z0-9_.:-]{1,100}$';

const SignUpForm = Form({ handle: Text(100), email: Text(300), password: Text(200), next: Type.Optional(Text(2000)) });
const LogInForm = Form({ login: Text(300), password: Text(200), next: Type.Optional(Text(2000)) });
const FollowBody = Type.Object(
  {
    _csrf: Type.Optional(Type.String({ maxLength: 200 })),
    follow: Type.Union([Type.Boolean(), Type.Literal('true'), Type.Literal('false')]),
    back: Type.Optional(Text(2000)),
  },
  { additionalProperties: false },
);
const TitleForm = Form({ title: Type.String({ minLength: 1, maxLength: 140 }) });
const BuyForm = Form({ packId: payment.PackId, idempotencyKey: Type.String({ pattern: IDEMPOTENCY_KEY }) });
const StampBody = Type.Object({ stampId: contents.IdParams.properties.id }, { additionalProperties: false });
const UserIdParams = Type.Object({ userId: contents.IdParams.properties.id });

const errorMessage = (answer: BffAnswer<unknown>) =>
  (answer.body as ErrorBody | undefined)?.error?.message ?? 'something went wrong; try again';

/** Forms and the islands' JSON calls. The plugin's preHandler has already checked origin and CSRF token. */
export async function actionRoutes(app: ServiceApp, web: WebContext) {
  const { bff, sessions } = web;
  const wantsJson = (request: FastifyRequest) => request.headers['content-type']?.startsWith('application/json');
  const loggedIn = async (request: FastifyRequest, reply: FastifyReply) => {
    const session = await sessions.read(request, reply);
    if (!session) throw new AppError('token_missing', 'log in first');
    return session;
  };
  const opts = (request: FastifyRequest, token?: string) => ({
    token,
    requestId: request.id,
    headers: forwarded(request),
  });

  app.post('/signup', { schema: { body: SignUpForm } }, async (request, reply) => {
    const { handle, email, password } = request.body;
    const next = safeBack(request.body.next);
    const answer = await bff.call<auth.Session>('POST', '/web/v1/auth/signup', {
      ...opts(request),
      body: { handle, email, password },
    });
    if (answer.status === 201) {
      sessions.set(reply, answer.body);
      return reply.redirect(next, 303);
    }
    if (answer.status >= 500) throw bffError(answer);
    return web.sendPage(
      request,
      reply,
      { name: 'auth', props: { mode: 'signup', next, error: errorMessage(answer), values: { handle, email } } },
      answer.status,
    );
  });

  app.post('/login', { schema: { body: LogInForm } }, async (request, reply) => {
    const { login, password } = request.body;
    const next = safeBack(request.body.next);
    const answer = await bff.call<auth.Session>('POST', '/web/v1/auth/login', {
      ...opts(request),
      body: { login, password },
    });
    if (answer.status === 200) {
      sessions.set(reply, answer.body);
      return reply.redirect(next, 303);
    }
    if (answer.status >= 500) throw bffError(answer);
    return web.sendPage(
      request,
      reply,
      { name: 'auth', props: { mode: 'login', next, error: errorMessage(answer), values: { login } } },
      answer.status,
    );
  });

  app.post('/logout', { schema: { body: Form({}) } }, async (request, reply) => {
    const refreshToken = request.cookies[REFRESH_COOKIE];
    // The refresh token dies at auth; the access token expires by itself within minutes.
    if (refreshToken) await bff.call('POST', '/web/v1/auth/logout', { ...opts(request), body: { refreshToken } });
    sessions.clear(reply);
    return reply.redirect('/', 303);
  });

  app.post('/follow/:userId', { schema: { params: UserIdParams, body: FollowBody } }, async (request, reply) => {
    const session = await loggedIn(request, reply);
    const follow = request.body.follow === true || request.body.follow === 'true';
    const answer = await bff.call<{ following: boolean }>(
      follow ? 'PUT' : 'DELETE',
      `/web/v1/me/following/${request.params.userId}`,
      opts(request, session.token),
    );
    if (answer.status !== 200) throw bffError(answer);
    if (wantsJson(request)) return answer.body;
    return reply.redirect(safeBack(request.body.back), 303);
  });

  app.post(
    '/api/streams/:id/stamps',
    { schema: { params: contents.IdParams, body: StampBody } },
    async (request, reply) => {
      const session = await loggedIn(request, reply);
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string') throw new AppError('idempotency_key_required', 'send an Idempotency-Key header');
      const answer = await bff.call<stamp.SentStamp>('POST', `/web/v1/streams/${request.params.id}/stamps`, {
        ...opts(request, session.token),
        body: request.body,
        headers: { ...forwarded(request), 'idempotency-key': key },
      });
      if (answer.status !== 200 && answer.status !== 201) throw bffError(answer);
      return reply.code(answer.status).send(answer.body);
    },
  );

  // Buying points: open a checkout at the payment provider and send the buyer to its page. The points arrive
  // by the provider's signed webhook; the provider sends the buyer back to /wallet?checkout=<id>.
  app.post('/wallet/checkout', { schema: { body: BuyForm } }, async (request, reply) => {
    const session = await loggedIn(request, reply);
    const answer = await bff.call<payment.Checkout>('POST', '/web/v1/me/points/checkouts', {
      ...opts(request, session.token),
      body: { packId: request.body.packId },
      headers: { ...forwarded(request), 'idempotency-key': request.body.idempotencyKey },
    });
    if (answer.status !== 201) throw bffError(answer);
    // Opened before and paid or expired since: its page is gone, the wallet says how it ended.
    if (!answer.body.url) return reply.redirect(`/wallet?checkout=${answer.body.id}`, 303);
    return reply.redirect(answer.body.url, 303);
  });

  // The offline card polls this to start the player on go-live.
  app.get('/api/streams/:id/playback', { schema: { params: contents.IdParams } }, async (request, reply) => {
    const session = await sessions.read(request, reply);
    const answer = await bff.call<StreamView>(
      'GET',
      `/web/v1/streams/${request.params.id}`,
      opts(request, session?.token),
    );
    if (answer.status !== 200) throw bffError(answer);
    reply.header('cache-control', 'no-store');
    return { state: answer.body.stream.state, src: web.playbackUrl(answer.body.stream, answer.body.playback) };
  });

  // The chat island calls this before it reconnects, so an expired access token is refreshed first.
  app.get('/api/session', async (request, reply) => {
    const session = await sessions.read(request, reply);
    reply.header('cache-control', 'no-store');
    return { loggedIn: session !== null };
  });

  // ── the streamer's dashboard ───────────────────────────────────────────────────────
  const dashboard = async (
    request: FastifyRequest,
    reply: FastifyReply,
    token: string,
    userId: string,
    extra: { streamKey?: string | null; error?: string | null } = {},
  ) => {
    const state = await dashboardState(web, request, token, userId);
    return web.sendPage(request, reply, {
      name: 'dashboard',
      props: {
        ...state,
        streamKey: extra.streamKey ?? null,
        ingestUrl: web.options.ingestUrl,
        error: extra.error ?? null,
      },
    });
  };

  app.post('/dashboard/channel', { schema: { body: TitleForm } }, async (request, reply) => {
    const session = await loggedIn(request, reply);
    const answer = await bff.call<contents.CreatedChannel>('POST', '/web/v1/me/channel', {
      ...opts(request, session.token),
      body: { title: request.body.title },
    });
    if (answer.status !== 201) {
      if (answer.status >= 500) throw bffError(answer);
      return dashboard(request, reply, session.token, session.user.id, { error: errorMessage(answer) });
    }
    // The new role is in a refreshed token: refresh now, so the next page already has it.
    const refreshToken = request.cookies[REFRESH_COOKIE];
    let token = session.token;
    if (refreshToken) {
      const refreshed = await bff.call<auth.Session>('POST', '/web/v1/auth/refresh', { body: { refreshToken } });
      if (refreshed.status === 200) {
        sessions.set(reply, refreshed.body);
        token = refreshed.body.tokens.accessToken;
      }
    }
    // The key is shown in this answer only: never stored, never in a URL.
    return dashboard(request, reply, token, session.user.id, { streamKey: answer.body.streamKey });
  });

  app.post('/dashboard/stream-key', { schema: { body: Form({}) } }, async (request, reply) => {
    const session = await loggedIn(request, reply);
    const answer = await bff.call<contents.StreamKey>(
      'POST',
      '/web/v1/me/channel/stream-key',
      opts(request, session.token),
    );
    if (answer.status !== 200) {
      if (answer.status >= 500) throw bffError(answer);
      return dashboard(request, reply, session.token, session.user.id, { error: errorMessage(answer) });
    }
    return dashboard(request, reply, session.token, session.user.id, { streamKey: answer.body.streamKey });
  });

  app.post('/dashboard/streams', { schema: { body: TitleForm } }, async (request, reply) => {
    const session = await loggedIn(request, reply);
    const answer = await bff.call<contents.Stream>('POST', '/web/v1/me/streams', {
      ...opts(request, session.token),
      body: { title: request.body.title },
    });
    if (answer.status !== 201) {
      if (answer.status >= 500) throw bffError(answer);
      return dashboard(request, reply, session.token, session.user.id, { error: errorMessage(answer) });
    }
    return reply.redirect('/dashboard', 303);
  });

  app.post(
    '/dashboard/streams/:id/end',
    { schema: { params: contents.IdParams, body: Form({}) } },
    async (request, reply) => {
      const session = await loggedIn(request, reply);
      const answer = await bff.call('POST', `/web/v1/streams/${request.params.id}/end`, opts(request, session.token));
      if (answer.status !== 200) throw bffError(answer);
      return reply.redirect('/dashboard', 303);
    },
  );
}
