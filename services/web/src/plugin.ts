import { createHmac } from 'node:crypto';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import fastifyVite from '@fastify/vite';
import { AppError, type ServiceApp } from '@livehouse/kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

import type { PageContext, PageProps } from '../client/lib/pages.ts';
import { actionRoutes } from './actions.routes.ts';
import { BffClient } from './bff.ts';
import { ensureBuilt, webRoot } from './build.ts';
import { StampCatalog } from './catalog.ts';
import { chatProxy } from './chat.proxy.ts';
import { contentSecurityPolicy, securityHeaders } from './csp.ts';
import { localeOf } from './locale.ts';
import { Names } from './names.ts';
import { pageRoutes } from './pages.routes.ts';
import { pageWriter, type SsrModule } from './render.ts';
import { Sessions } from './session.ts';

export interface WebOptions {
  bffUrl: string;
  /** Signs the CSRF cookie; derived from the deployment's internal key. */
  secret: string;
  /** Secure cookies (`__Host-` needs them); browsers treat http://localhost as secure, so it stays on in tests. */
  secureCookies: boolean;
  /** Origins the player may load HLS (and thumbnails) from, added to the CSP. */
  mediaOrigins: string[];
  /** Until the BFF's views carry a playback URL: where the HLS of a stream is, `{streamId}` replaced. */
  hlsUrlTemplate: string | null;
  /** Shown on the dashboard as the RTMP server to publish to. */
  ingestUrl: string;
  /** The payment provider's checkout origins: the wallet's buy form redirects there (CSP form-action). */
  checkoutOrigins: string[];
}

export interface WebContext {
  bff: BffClient;
  sessions: Sessions;
  /** The stamp catalog, fetched once per version. */
  catalog: StampCatalog;
  options: WebOptions;
  /** Streams a server-rendered page. */
  sendPage(request: FastifyRequest, reply: FastifyReply, page: PageProps, status?: number): Promise<FastifyReply>;
  /** The HLS a page plays: the BFF's playback URL (live or VOD), else the configured template. */
  playbackUrl(
    stream: { id: string; state: string },
    playback: { live: string | null; vod: string | null } | undefined,
  ): string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The origin of the HLS this page plays (the edge), added to its CSP. */
    mediaOrigin?: string;
  }
}

function isSsrModule(x: unknown): x is SsrModule {
  const m = x as Partial<SsrModule> | undefined;
  return typeof m?.render === 'function' && typeof m.titleOf === 'function' && typeof m.messages === 'object';
}

/** Unsafe methods must come from our own pages: same origin (Origin / Sec-Fetch-Site) and a valid CSRF token. */
function sameOrigin(request: FastifyRequest) {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  return origin === `${request.protocol}://${request.host}`;
}

/**
 * The PC web as one Fastify plugin: server-rendered pages from the BFF's /web/v1 views, the built
 * islands and assets, form posts, the islands' JSON calls and the chat socket. Wrapped with
 * fastify-plugin so @fastify/vite's decorations and hooks reach the routes (and its dev middleware,
 * were it used, the whole server).
 */
export const webPlugin = fp(
  async (app: FastifyInstance, options: WebOptions) => {
    await ensureBuilt((msg) => app.log.info(msg));
    const bff = new BffClient(options.bffUrl);
    const sessions = new Sessions(bff, options.secureCookies);
    app.addHook('onClose', async () => bff.close());

    await app.register(cookie, { secret: createHmac('sha256', options.secret).update('livehouse-web').digest() });
    await app.register(formbody, { bodyLimit: 16_384 });
    await app.register(csrf, {
      cookieKey: options.secureCookies ? '__Host-lh_csrf' : 'lh_csrf',
      cookieOpts: { path: '/', sameSite: 'lax', secure: options.secureCookies, httpOnly: true, signed: true },
      getToken: (req) => {
        const fromForm = (req.body as { _csrf?: unknown } | undefined)?._csrf;
        const fromHeader = req.headers['csrf-token'];
        return typeof fromForm === 'string' ? fromForm : typeof fromHeader === 'string' ? fromHeader : '';
      },
    });

    const csp = contentSecurityPolicy(options.mediaOrigins, options.checkoutOrigins);
    app.addHook('onSend', async (request, reply, payload) => {
      reply.headers(securityHeaders);
      const media = request.mediaOrigin;
      reply.header(
        'content-security-policy',
        media && !options.mediaOrigins.includes(media)
          ? contentSecurityPolicy([...options.mediaOrigins, media], options.checkoutOrigins)
          : csp,
      );
      return payload;
    });

    app.addHook('preValidation', (request, reply, done) => {
      if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return done();
      if (!sameOrigin(request)) return done(new AppError('forbidden', 'cross-site requests are refused'));
      app.csrfProtection(request, reply, done);
    });
    // @fastify/csrf-protection answers a bad token itself with its own 403 error: say it in our vocabulary
    // (throwing hands the error on to the kit's handler, which writes the envelope).
    app.setErrorHandler((error) => {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('FST_CSRF_')) {
        throw new AppError('forbidden', 'the form token is missing or expired: reload the page and try again');
      }
      throw error;
    });

    let ssr: SsrModule | undefined;
    let template: string | undefined;
    await app.register(fastifyVite, {
      root: webRoot,
      dev: false,
      // We render and write the document ourselves (./render.ts); @fastify/vite loads the built
      // bundle and serves the assets.
      prepareClient: async (entries: Record<string, unknown>) => {
        if (!isSsrModule(entries.ssr)) throw new Error('web: the SSR bundle does not export render/titleOf/messages');
        ssr = entries.ssr;
        return null;
      },
      createHtmlFunction: (source: string) => {
        template = source;
        return function html(this: FastifyReply) {
          return this;
        };
      },
    } as never);
    await app.vite.ready();
    if (!ssr || template === undefined) throw new Error('web: the built bundle was not loaded');
    const write = pageWriter(template, ssr);

    const ctx: WebContext = {
      bff,
      sessions,
      catalog: new StampCatalog(bff),
      options,
      async sendPage(request, reply, page, status = 200) {
        const session = await sessions.read(request, reply);
        const pageCtx: PageContext = {
          locale: localeOf(request),
          path: request.url.length <= 2000 ? request.url : '/',
          // Only pages with forms or writes need a token: a logged-out viewer's have none but log in / sign up
          // (a new token is a new signed cookie: by far the dearest part of an anonymous page).
          csrf: session || page.name === 'auth' ? reply.generateCsrf() : '',
          me: session?.user ?? null,
        };
        if ((page.name === 'stream' || page.name === 'archive') && page.src) {
          request.mediaOrigin = URL.canParse(page.src) ? new URL(page.src).origin : undefined;
        }
        return write(reply, page, pageCtx, status);
      },
      playbackUrl(stream, playback) {
        const fromBff = stream.state === 'ended' ? playback?.vod : playback?.live;
        if (fromBff) return fromBff;
        if (stream.state !== 'live' && stream.state !== 'ended') return null;
        return options.hlsUrlTemplate?.replaceAll('{streamId}', stream.id) ?? null;
      },
    };

    await pageRoutes(app as unknown as ServiceApp, ctx);
    await actionRoutes(app as unknown as ServiceApp, ctx);
    const chat = chatProxy({ bffUrl: options.bffUrl, names: new Names(bff), log: app.log });
    app.server.on('upgrade', chat.onUpgrade);
    app.addHook('preClose', async () => chat.close());
  },
  { name: 'livehouse-web', fastify: '5.x' },
);
