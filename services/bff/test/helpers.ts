import { authService } from '@livehouse/auth';
import { chatService } from '@livehouse/chat';
import { contentsService } from '@livehouse/contents';
import { buyPoints, type DbKind, publicApi, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { paymentService } from '@livehouse/payment';
import { pointService } from '@livehouse/point';
import { stampService } from '@livehouse/stamp';
import { timelineService } from '@livehouse/timeline';
import { userService } from '@livehouse/user';
import { bffService } from '../src/index.ts';
import { assertContractHeld, contractChecked } from './contract-check.ts';

export const backendDefinitions = [
  userService,
  authService,
  contentsService,
  pointService,
  stampService,
  timelineService,
  chatService,
  paymentService,
];

/**
 * The platform with the BFF. Section and command timeouts are scaled up: these tests check composition,
 * not timing, and CI's two cores run other test files, or a second suite, at the same time (the fault
 * tests check timing). Commands were the last to give way: sign-ups answered 504 after the default 5 s.
 */
export async function startBff(kind: DbKind, config?: (name: string) => Record<string, unknown>) {
  const relaxed = { requestBudgetMs: 10_000, timeoutScale: 20, commandTimeoutMs: 60_000 };
  const platform = await startTestPlatform([...backendDefinitions, contractChecked(bffService)], kind, {
    config: (name) => {
      const own = config?.(name) ?? {};
      return name === 'bff' ? { ...own, bff: { ...relaxed, ...(own.bff as object | undefined) } } : own;
    },
  });
  // Every answer the test saw is checked against the BFF's own OpenAPI document; violations fail the file here.
  const close = platform.close.bind(platform);
  platform.close = async () => {
    await close();
    assertContractHeld();
  };
  return platform;
}

export { publicApi };

export interface World {
  streamer: { id: string; token: string };
  viewer: { id: string; token: string };
  streamId: string;
  channelId: string;
}

/** A streamer live on a channel, and a viewer who follows them, bought points and sent a paid stamp. */
export async function buildWorld(p: TestPlatform): Promise<World> {
  const api = publicApi(`${p.url('bff')}/web/v1`);
  const signUp = async (handle: string) => {
    const res = await api('POST', '/auth/signup', {
      body: { handle, email: `${handle}@example.com`, password: 'long-enough-secret' },
    });
    if (res.status !== 201) throw new Error(`signup ${handle}: ${res.status} ${JSON.stringify(res.body)}`);
    return {
      id: res.body.account.id as string,
      token: res.body.tokens.accessToken as string,
      refresh: res.body.tokens.refreshToken as string,
    };
  };
  const s = await signUp('streamer1');
  const channel = await api('POST', '/me/channel', { token: s.token, body: { title: 'Speedruns all day' } });
  if (channel.status !== 201) throw new Error(`channel: ${channel.status} ${JSON.stringify(channel.body)}`);
  const refreshed = await api('POST', '/auth/refresh', { body: { refreshToken: s.refresh } });
  const streamerToken = refreshed.body.tokens.accessToken as string;
  const live = await api('POST', '/me/streams', { token: streamerToken, body: { title: 'Any% attempts' } });
  if (live.status !== 201) throw new Error(`go live: ${live.status} ${JSON.stringify(live.body)}`);
  const v = await signUp('viewer1');
  await api('PUT', `/me/following/${s.id}`, { token: v.token });
  await buyPoints(p.url('bff'), v.token, 'p500', 'buy-1');
  const catalog = await api('GET', '/stamps/catalog');
  const paid = (catalog.body.items as { id: string; price: number; channelId: string | null }[]).find(
    (x) => x.price > 0 && x.price <= 100 && x.channelId === null,
  );
  const sent = await api('POST', `/streams/${live.body.id}/stamps`, {
    token: v.token,
    headers: { 'idempotency-key': 'stamp-1' },
    body: { stampId: paid?.id },
  });
  if (sent.status !== 201) throw new Error(`stamp: ${sent.status} ${JSON.stringify(sent.body)}`);
  return {
    streamer: { id: s.id, token: streamerToken },
    viewer: { id: v.id, token: v.token },
    streamId: live.body.id,
    channelId: channel.body.channel.id,
  };
}
