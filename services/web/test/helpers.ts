import { execFile } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { authService } from '@livehouse/auth';
import { bffService } from '@livehouse/bff';
import { chatService } from '@livehouse/chat';
import { contentsService } from '@livehouse/contents';
import { type DbKind, publicApi, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { freePort } from '@livehouse/kit/testing/ports';
import { paymentService } from '@livehouse/payment';
import { pointService } from '@livehouse/point';
import { stampService } from '@livehouse/stamp';
import { timelineService } from '@livehouse/timeline';
import { userService } from '@livehouse/user';
import { webService } from '../src/index.ts';

/** The whole platform the web needs: every backend, the BFF and the web server, on free ports. */
export async function startWeb(kind: DbKind, web: Record<string, unknown> = {}) {
  // Ports chosen first: the embedded payment provider delivers its signed webhooks to the BFF, sends buyers back
  // to the web's wallet, and its pay pages are where the web's buy form may redirect (CSP form-action).
  const [bffPort, webPort, providerPort] = [await freePort(), await freePort(), await freePort()];
  return startTestPlatform(
    [
      userService,
      authService,
      contentsService,
      pointService,
      paymentService,
      stampService,
      timelineService,
      chatService,
      bffService,
      webService,
    ],
    kind,
    {
      config: (name) => {
        // The web server calls the BFF from one address: lift the per-IP limit; stretch timeouts on a loaded machine.
        if (name === 'bff') {
          return {
            bff: {
              requestBudgetMs: 5000,
              timeoutScale: 10,
              commandTimeoutMs: 60_000,
              rateLimit: { perIp: { max: 100_000, windowMs: 60_000 } },
            },
          };
        }
        if (name === 'payment') {
          return {
            payment: {
              provider: 'local',
              local: { port: providerPort, webhookUrl: `http://127.0.0.1:${bffPort}/webhooks/stripe` },
              successUrl: `http://127.0.0.1:${webPort}/wallet?checkout={CHECKOUT_SESSION_ID}`,
              cancelUrl: `http://127.0.0.1:${webPort}/wallet`,
            },
          };
        }
        if (name === 'web') {
          return {
            http: { host: '127.0.0.1', port: webPort, adminPort: 0 },
            web: { checkoutOrigins: [`http://127.0.0.1:${providerPort}`], ...web },
          };
        }
        return {};
      },
      bffPort,
    },
  );
}

/** The public API as a client (the BFF), for setting up a world. */
export const bffApi = (p: TestPlatform) => publicApi(`${p.url('bff')}/web/v1`);

export interface World {
  streamer: { id: string; handle: string; token: string };
  streamId: string;
  channelId: string;
  /** The channel's first stream key (shown once, when the channel was made). */
  streamKey: string;
}

/** The streamers' password (liveStreamer). */
export const STREAMER_PASSWORD = 'long-enough-secret';

/** A streamer with a channel, live now. Titles may carry hostile text (escaping tests). */
export async function liveStreamer(
  p: TestPlatform,
  handle: string,
  titles: { channel: string; stream: string },
): Promise<World> {
  const api = bffApi(p);
  const signup = await api('POST', '/auth/signup', {
    body: { handle, email: `${handle}@example.com`, password: STREAMER_PASSWORD },
  });
  if (signup.status !== 201) throw new Error(`signup ${handle}: ${signup.status} ${JSON.stringify(signup.body)}`);
  const token0 = signup.body.tokens.accessToken as string;
  const channel = await api('POST', '/me/channel', { token: token0, body: { title: titles.channel } });
  if (channel.status !== 201) throw new Error(`channel: ${channel.status} ${JSON.stringify(channel.body)}`);
  const refreshed = await api('POST', '/auth/refresh', { body: { refreshToken: signup.body.tokens.refreshToken } });
  const token = refreshed.body.tokens.accessToken as string;
  const live = await api('POST', '/me/streams', { token, body: { title: titles.stream } });
  if (live.status !== 201) throw new Error(`go live: ${live.status} ${JSON.stringify(live.body)}`);
  return {
    streamer: { id: signup.body.account.id, handle, token },
    streamId: live.body.id,
    channelId: channel.body.channel.id,
    streamKey: channel.body.streamKey,
  };
}

/** A cookie jar just big enough for fetch-based tests of the web server. */
export class Jar {
  readonly cookies = new Map<string, string>();
  store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** A 6-second HLS VOD made by ffmpeg at test time (H.264 baseline, 2-s segments), served with CORS. */
export async function hlsFixture(): Promise<{ url: string; origin: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'lh-web-hls-'));
  await promisify(execFile)(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30'],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '6'],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-g', '60'],
      ...['-c:a', 'aac', '-b:a', '64k', '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod'],
      join(dir, 'index.m3u8'),
    ],
    { timeout: 60_000 },
  );
  const server: Server = createServer((req, res) => {
    // Every stream id gets the same fixture: /<anything>/<file>.
    const file = normalize(join(dir, (req.url ?? '').split('?')[0]?.split('/').at(-1) ?? ''));
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404, { 'access-control-allow-origin': '*' }).end();
      return;
    }
    const type = file.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t';
    res.writeHead(200, { 'content-type': type, 'access-control-allow-origin': '*' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/{streamId}/index.m3u8`,
    origin,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
