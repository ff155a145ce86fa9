import { defineService } from '@livehouse/kit';
import { Type } from 'typebox';
import { webPlugin } from './plugin.ts';

export { ensureBuilt } from './build.ts';

const config = {
  web: Type.Object(
    {
      /** Secure (and `__Host-`) cookies; browsers accept them on http://localhost, so leave on except behind plain-HTTP hosts. */
      secureCookies: Type.Boolean({ default: true }),
      /** Origins HLS and thumbnails are loaded from (the edge), allowed by the Content-Security-Policy. */
      mediaOrigins: Type.Array(Type.String({ pattern: '^https?://[^/\\s;,]+$' }), { default: [] }),
      /** Where a stream's HLS is when the BFF's view carries no playback URL; `{streamId}` is replaced. */
      hlsUrlTemplate: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null }),
      /** Where the payment provider's checkout pages are (the wallet's buy form redirects there); Stripe's by default. */
      checkoutOrigins: Type.Array(Type.String({ pattern: '^https?://[^/\\s;,]+$' }), {
        default: ['https://checkout.stripe.com'],
      }),
      /** The RTMP server streamers publish to, shown on the dashboard. */
      ingestUrl: Type.String({ default: 'rtmp://127.0.0.1:1935/live' }),
    },
    { default: {}, additionalProperties: false },
  ),
};

/** The PC web: server-rendered pages over the BFF's /web/v1 views, with hydrated islands. */
export const webService = defineService({
  name: 'web',
  config,
  dependsOn: ['bff'],
  // Browsers call it with cookies, not internal tokens; it calls the BFF as a public client.
  public: true,
  routes: async (app, ctx) => {
    const bffUrl = ctx.config.services.bff;
    if (!bffUrl) throw new Error('web calls the BFF: set services.bff in its config');
    await app.register(webPlugin, { bffUrl, secret: ctx.config.secrets.internalKey, ...ctx.config.web });
  },
});
