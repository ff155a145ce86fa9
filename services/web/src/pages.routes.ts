import { randomUUID } from 'node:crypto';
import { contents, payment, type point } from '@livehouse/contracts';
import { type ServiceApp, toAppError } from '@livehouse/kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type {
  ChannelView,
  HomeView,
  ProfileView,
  StreamView,
  WalletPage,
  WebChannel,
  WebStream,
} from '../client/lib/views.ts';
import { type BffAnswer, bffError } from './bff.ts';
import { LANG_COOKIE, LOCALES, safeBack } from './locale.ts';
import type { WebContext } from './plugin.ts';

const IdParams = contents.IdParams;
const NextQuery = Type.Object({ next: Type.Optional(Type.String({ maxLength: 2000 })) });
const WalletQuery = Type.Object({ checkout: Type.Optional(payment.CheckoutId) });

/** GET pages: each fetches its BFF view with the viewer's token and streams the page. */
export async function pageRoutes(app: ServiceApp, web: WebContext) {
  const { bff, sessions } = web;

  /** The BFF view for this viewer; a 404 or any other failure becomes an HTML error page. */
  const view = async <T>(request: FastifyRequest, reply: FastifyReply, path: string): Promise<BffAnswer<T>> => {
    const session = await sessions.read(request, reply);
    const answer = await bff.call<T>('GET', path, {
      token: session?.token,
      requestId: request.id,
      headers: forwarded(request),
    });
    if (answer.status !== 200) throw bffError(answer);
    return answer;
  };

  await app.register(async (scope) => {
    const pages = scope as unknown as ServiceApp;
    // Pages answer errors as pages, never as JSON or a blank screen.
    pages.setErrorHandler(async (error, request, reply) => {
      const e = toAppError(error);
      if (e.status >= 500) request.log.error({ err: error }, 'page failed');
      const message = e.status >= 500 ? 'The service is having trouble. Try again in a moment.' : e.message;
      return web.sendPage(request, reply, { name: 'error', status: e.status, message }, e.status);
    });
    // Any other GET is a page that does not exist (the kit's JSON 404 stays for other methods).
    pages.get('/*', async (request, reply) =>
      web.sendPage(request, reply, { name: 'error', status: 404, message: request.url.split('?')[0] ?? '' }, 404),
    );

    pages.get('/', async (request, reply) => {
      const { body } = await view<HomeView>(request, reply, '/web/v1/home');
      return web.sendPage(request, reply, { name: 'home', view: body });
    });

    pages.get('/streams/:id', { schema: { params: IdParams } }, async (request, reply) => {
      const { body } = await view<StreamView>(request, reply, `/web/v1/streams/${request.params.id}`);
      if (body.stream.state === 'ended') return reply.redirect(`/archives/${body.stream.id}`, 302);
      return web.sendPage(request, reply, {
        name: 'stream',
        view: body,
        src: web.playbackUrl(body.stream, body.playback),
        stamps: await web.catalog.picker(body.catalogVersion, body.stream.channel.id),
      });
    });

    pages.get('/archives/:id', { schema: { params: IdParams } }, async (request, reply) => {
      const { body } = await view<StreamView>(request, reply, `/web/v1/streams/${request.params.id}`);
      if (body.stream.state !== 'ended') return reply.redirect(`/streams/${body.stream.id}`, 302);
      return web.sendPage(request, reply, {
        name: 'archive',
        view: body,
        src: web.playbackUrl(body.stream, body.playback),
      });
    });

    pages.get('/channels/:id', { schema: { params: IdParams } }, async (request, reply) => {
      const { body } = await view<ChannelView>(request, reply, `/web/v1/channels/${request.params.id}`);
      return web.sendPage(request, reply, { name: 'channel', view: body });
    });

    pages.get('/users/:id', { schema: { params: IdParams } }, async (request, reply) => {
      const { body } = await view<ProfileView>(request, reply, `/web/v1/users/${request.params.id}`);
      return web.sendPage(request, reply, { name: 'profile', view: body });
    });

    for (const mode of ['signup', 'login'] as const) {
      pages.get(`/${mode}`, { schema: { querystring: NextQuery } }, async (request, reply) => {
        const next = safeBack(request.query.next);
        if (await sessions.read(request, reply)) return reply.redirect(next, 303);
        return web.sendPage(request, reply, { name: 'auth', props: { mode, next, error: null, values: {} } });
      });
    }

    pages.get('/wallet', { schema: { querystring: WalletQuery } }, async (request, reply) => {
      const session = await sessions.read(request, reply);
      if (!session) return reply.redirect('/login?next=%2Fwallet', 303);
      const opts = { token: session.token, requestId: request.id, headers: forwarded(request) };
      const checkoutId = request.query.checkout;
      // Commands each allowed to fail on its own: the page shows what it has.
      const ok = <T>(answer: BffAnswer<T> | null) => (answer?.status === 200 ? answer.body : null);
      const [wallet, history, packs, checkout] = await Promise.all([
        bff.call<point.Wallet>('GET', '/web/v1/me/points', opts).catch(() => null),
        bff.call<point.HistoryPage>('GET', '/web/v1/me/points/history?limit=50', opts).catch(() => null),
        bff.call<payment.Packs>('GET', '/web/v1/me/points/packs', opts).catch(() => null),
        checkoutId
          ? bff.call<payment.Checkout>('GET', `/web/v1/me/points/checkouts/${checkoutId}`, opts).catch(() => null)
          : null,
      ]);
      const data: WalletPage = {
        balance: ok(wallet)?.balance ?? null,
        history: ok(history),
        packs: ok(packs)?.items ?? null,
        checkout: ok(checkout),
        idempotencyKey: `web-${randomUUID()}`,
        meta: {
          degraded: [
            ...(ok(wallet) ? [] : ['wallet']),
            ...(ok(history) ? [] : ['history']),
            ...(ok(packs) ? [] : ['packs']),
            ...(checkoutId && !ok(checkout) ? ['checkout'] : []),
          ],
        },
      };
      return web.sendPage(request, reply, { name: 'wallet', view: data });
    });

    pages.get('/dashboard', async (request, reply) => {
      const session = await sessions.read(request, reply);
      if (!session) return reply.redirect('/login?next=%2Fdashboard', 303);
      const state = await dashboardState(web, request, session.token, session.user.id);
      return web.sendPage(request, reply, {
        name: 'dashboard',
        props: { ...state, streamKey: null, ingestUrl: web.options.ingestUrl, error: null },
      });
    });

    pages.get(
      '/lang/:locale',
      {
        schema: {
          params: Type.Object({ locale: Type.Union(LOCALES.map((l) => Type.Literal(l))) }),
          querystring: Type.Object({ back: Type.Optional(Type.String({ maxLength: 2000 })) }),
        },
      },
      async (request, reply) => {
        reply.setCookie(LANG_COOKIE, request.params.locale, {
          path: '/',
          sameSite: 'lax',
          secure: web.options.secureCookies,
          httpOnly: true,
          maxAge: 365 * 24 * 3600,
        });
        return reply.redirect(safeBack(request.query.back), 303);
      },
    );
  });
}

/** The client's address for the BFF's per-IP limits (the BFF trusts it only from proxies it is told to trust). */
export function forwarded(request: FastifyRequest): Record<string, string> {
  return { 'x-forwarded-for': request.ip };
}

/** The dashboard's data: the viewer's channel (through their profile view) and its live stream. */
export async function dashboardState(web: WebContext, request: FastifyRequest, token: string, userId: string) {
  const opts = { token, requestId: request.id, headers: forwarded(request) };
  const profile = await web.bff.call<ProfileView>('GET', `/web/v1/users/${userId}`, opts);
  if (profile.status !== 200) throw bffError(profile);
  let channel: WebChannel | null | 'degraded' = profile.body.meta.degraded.includes('channel')
    ? 'degraded'
    : profile.body.channel;
  let live: WebStream | null = null;
  if (channel && channel !== 'degraded' && channel.liveStreamId) {
    const stream = await web.bff.call<StreamView>('GET', `/web/v1/streams/${channel.liveStreamId}`, opts);
    if (stream.status === 200) live = stream.body.stream;
    else channel = channel ?? 'degraded';
  }
  return { channel, live };
}
