import { callJson, type JsonResponse, type SourceAddresses } from './http.ts';

/** A user of the mix: signed up before the measured phase, with a password to log in again. */
export interface PoolUser {
  id: string;
  handle: string;
  password: string;
  token: string;
  tokenAt: number;
}

export interface LiveStream {
  id: string;
  channelId: string;
  ownerId: string;
}

/** Everything the mix needs to know about the platform, found or made before the measured phase. */
export interface World {
  runId: string;
  streams: LiveStream[];
  users: PoolUser[];
  freeStamps: string[];
  paidStamps: string[];
  catalogEtag: string | undefined;
  /** Streams that were live before the load test made its own (demo data of `livehouse up`). */
  foundStreams: number;
}

const PASSWORD = 'loadtest-password-1';

function expect(res: JsonResponse, status: number, what: string) {
  if (res.status !== status) {
    throw new Error(`set-up: ${what} answered ${res.status}, expected ${status}: ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** Runs `work` over `items`, `limit` at a time (sign-ups hash passwords: a few at once is enough). */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T, i: number) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]!, i);
      }
    }),
  );
  return results;
}

/**
 * Through the public API only, so it works against any livehouse: streamers sign up, open a
 * channel and go live; a pool of viewers signs up; the stamp catalog is read.
 */
export async function setUp(
  bff: string,
  options: { users: number; addresses: SourceAddresses; log: (line: string) => void },
): Promise<World> {
  const runId = Math.random().toString(36).slice(2, 7).padEnd(5, '0');
  const api = `${bff}/web/v1`;
  const from = () => options.addresses.take();

  const signUp = async (handle: string) => {
    const address = from();
    const body = expect(
      await callJson(`${api}/auth/signup`, {
        method: 'POST',
        body: { handle, email: `${handle}@loadtest.livehouse.dev`, password: PASSWORD },
        from: address,
      }),
      201,
      `sign-up of ${handle}`,
    );
    return {
      id: body.account.id as string,
      token: body.tokens.accessToken as string,
      refresh: body.tokens.refreshToken as string,
      address,
    };
  };

  const streamerCount = Math.min(20, Math.max(3, Math.round(options.users / 20)));
  const poolSize = Math.max(20, Math.ceil(options.users * 0.5));
  options.log(`set-up: ${streamerCount} streamers go live, ${poolSize} viewers sign up (run ${runId}) …`);

  const streams = await inBatches(
    Array.from({ length: streamerCount }, (_, i) => i),
    4,
    async (i) => {
      const s = await signUp(`lt${runId}_s${i}`);
      const channel = expect(
        await callJson(`${api}/me/channel`, {
          method: 'POST',
          token: s.token,
          body: { title: `Load test channel ${i}` },
          from: s.address,
        }),
        201,
        'becoming a streamer',
      );
      const refreshed = expect(
        await callJson(`${api}/auth/refresh`, { method: 'POST', body: { refreshToken: s.refresh }, from: s.address }),
        200,
        'refreshing the streamer token',
      );
      const live = expect(
        await callJson(`${api}/me/streams`, {
          method: 'POST',
          token: refreshed.tokens.accessToken,
          body: { title: `Load test stream ${i}` },
          from: s.address,
        }),
        201,
        'going live',
      );
      return { id: live.id as string, channelId: channel.channel.id as string, ownerId: s.id };
    },
  );

  const users = await inBatches(
    Array.from({ length: poolSize }, (_, i) => i),
    4,
    async (i): Promise<PoolUser> => {
      const handle = `lt${runId}_u${i}`;
      const s = await signUp(handle);
      return { id: s.id, handle, password: PASSWORD, token: s.token, tokenAt: Date.now() };
    },
  );

  const catalog = await callJson(`${api}/stamps/catalog`, { from: from() });
  const items = (expect(catalog, 200, 'the stamp catalog').items ?? []) as {
    id: string;
    price: number;
    channelId: string | null;
  }[];
  const general = items.filter((x) => x.channelId === null);
  const freeStamps = general.filter((x) => x.price === 0).map((x) => x.id);
  const paidStamps = general.filter((x) => x.price > 0 && x.price <= 100).map((x) => x.id);
  if (freeStamps.length === 0 && paidStamps.length === 0) throw new Error('set-up: the stamp catalog has no stamps');

  // Streams already live on the platform (demo data) are browsed too.
  const home = expect(await callJson(`${api}/home`, { from: from() }), 200, 'the home view');
  const own = new Set(streams.map((s) => s.id));
  type WebStream = { id?: string; channel?: { id?: string }; streamer?: { id?: string } | null };
  const found = ((home.liveNow ?? []) as WebStream[]).flatMap((s) =>
    s.id && !own.has(s.id) && s.channel?.id && s.streamer?.id
      ? [{ id: s.id, channelId: s.channel.id, ownerId: s.streamer.id }]
      : [],
  );

  return {
    runId,
    streams: [...streams, ...found],
    users,
    freeStamps,
    paidStamps,
    catalogEtag: typeof catalog.headers.etag === 'string' ? catalog.headers.etag : undefined,
    foundStreams: found.length,
  };
}
