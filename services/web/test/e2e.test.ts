import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { TestPlatform } from '@livehouse/kit/testing';
import { chromium, type Page, type WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bffApi, hlsFixture, liveStreamer, STREAMER_PASSWORD, startWeb, type World } from './helpers.ts';

/** Screenshots of each step: test artifacts, git-ignored. */
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
const CHROMIUM = process.env.LIVEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
const PASSWORD = 'viewer-password-long';
/** The web server's URL, for helpers outside the suite. */
let web0 = '';

async function browser(viewport = { width: 1280, height: 720 }) {
  const dir = await mkdtemp(join(tmpdir(), 'lh-web-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every script the page loaded (entry, chunks, the lazily loaded player), gzipped as a server would send it. */
async function jsGzipBytes(page: Page, load: () => Promise<unknown>) {
  const urls = new Set<string>();
  const onResponse = (r: { url(): string; request(): { resourceType(): string } }) => {
    if (r.request().resourceType() === 'script') urls.add(r.url());
  };
  page.on('response', onResponse);
  await load();
  page.off('response', onResponse);
  let total = 0;
  for (const url of urls) total += gzipSync(Buffer.from(await (await fetch(url)).arrayBuffer()), { level: 9 }).length;
  return { total, urls: [...urls] };
}

const currentTime = (page: Page) =>
  page.locator('[data-testid=video]').evaluate((v) => (v as unknown as { currentTime: number }).currentTime);

describe('the PC web in Chromium', () => {
  let p: TestPlatform;
  let hls: Awaited<ReturnType<typeof hlsFixture>>;
  let world: World;
  let web: string;
  const opened: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    hls = await hlsFixture();
    p = await startWeb('pglite', { hlsUrlTemplate: hls.url, mediaOrigins: [hls.origin] });
    web = p.url('web');
    web0 = web;
    world = await liveStreamer(p, 'streamer_e2e', { channel: 'Speedrun Club', stream: 'Any% practice, live' });
  }, 90_000);

  afterAll(async () => {
    for (const b of opened) await b.close().catch(() => {});
    await p?.close();
    await hls?.close();
  });

  it('when a viewer signs up, follows, watches, chats and sends a paid stamp, then both browsers see it; a dead backend is marked; log out ends the session', async () => {
    const a = await browser();
    opened.push(a);
    const page = await a.context.newPage();

    // Home, logged out: the live stream is listed; its JavaScript is small.
    const home = await jsGzipBytes(page, () => page.goto(`${web}/`, { waitUntil: 'networkidle' }));
    expect(home.total).toBeLessThan(30 * 1024);
    await expect.poll(() => page.locator('[data-testid=live-now] .card').count()).toBeGreaterThan(0);
    // Keyboard: the first Tab reaches the skip link, with a visible focus ring.
    await page.keyboard.press('Tab');
    // (Browser code as strings: this file is type-checked without the DOM library.)
    const focus = await page.evaluate(`(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      return { cls: el.className, outline: style.outlineStyle, width: style.outlineWidth };
    })()`);
    expect(focus).toMatchObject({ cls: 'skip', outline: 'solid', width: '3px' });

    // Sign up through the form; the session is in HttpOnly cookies only.
    await page.goto(`${web}/signup`);
    await page.fill('input[name=handle]', 'viewer_e2e');
    await page.fill('input[name=email]', 'viewer_e2e@example.com');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('[data-testid=auth-submit]');
    await page.waitForURL(`${web}/`);
    await expect.poll(() => page.locator('[data-testid=whoami]').textContent()).toContain('@viewer_e2e');
    const cookies = await a.context.cookies(web);
    const session = cookies.filter((c) => c.name.startsWith('__Host-lh_'));
    expect(session.map((c) => c.name).sort()).toEqual(['__Host-lh_at', '__Host-lh_csrf', '__Host-lh_rt']);
    for (const c of session) expect(c).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax' });
    const readable = await page.evaluate<{ cookie: string; storage: string }>(
      '({ cookie: document.cookie, storage: JSON.stringify(localStorage) })',
    );
    expect(readable.cookie).not.toMatch(/lh_at|lh_rt|eyJ/);
    expect(readable.storage).toBe('{}');
    await page.screenshot({ path: join(ARTIFACTS, '01-home.png'), fullPage: true });

    // Buy points: the wallet's buy form opens a checkout at the (embedded, local) payment provider, whose page takes
    // the payment, sends the signed webhook that credits the points, and sends the buyer back to the wallet.
    await page.goto(`${web}/wallet`);
    expect(await page.getAttribute('[data-testid=wallet-balance]', 'data-balance')).toBe('0');
    await page.click('[data-testid=buy][data-pack=p100]');
    await page.waitForURL(/\/pay\/cs_/, { timeout: 20_000 });
    await page.click('button');
    await page.waitForURL(/\/wallet\?checkout=cs_/, { timeout: 20_000 });
    expect(await page.getAttribute('[data-testid=checkout-status]', 'data-status')).toBe('paid');
    expect(await page.getAttribute('[data-testid=wallet-balance]', 'data-balance')).toBe('100');
    expect(await page.locator('[data-testid=history]').textContent()).toContain('+100');
    await page.screenshot({ path: join(ARTIFACTS, '01b-wallet-bought.png'), fullPage: true });

    // The stream page: follow, the player plays, everything within the JavaScript budget.
    const stream = await jsGzipBytes(page, async () => {
      await page.goto(`${web}/streams/${world.streamId}`);
      await page.locator('[data-testid=video]').waitFor();
      await expect.poll(() => currentTime(page), { timeout: 20_000 }).toBeGreaterThan(0.5);
    });
    expect(stream.urls.some((u) => u.includes('hls.light'))).toBe(true);
    expect(stream.total).toBeLessThan(150 * 1024);
    const t1 = await currentTime(page);
    await expect.poll(() => currentTime(page), { timeout: 10_000 }).toBeGreaterThan(t1 + 0.5);
    await page.click('[data-testid=follow]');
    await expect.poll(() => page.getAttribute('[data-testid=follow]', 'aria-pressed')).toBe('true');
    await expect.poll(() => page.getAttribute('[data-testid=chat-status]', 'class')).toContain('connected');
    await page.screenshot({ path: join(ARTIFACTS, '02-stream-playing.png') });

    // A second browser (anonymous) on the same stream sees A's message.
    const b = await browser();
    opened.push(b);
    const other = await b.context.newPage();
    await other.goto(`${web}/streams/${world.streamId}`);
    await expect.poll(() => other.getAttribute('[data-testid=chat-status]', 'class')).toContain('connected');
    await page.fill('[data-testid=chat-input]', 'hello from the e2e test');
    await page.click('[data-testid=chat-send]');
    for (const pg of [page, other]) {
      await expect
        .poll(() => pg.locator('[data-testid=chat-items]').textContent())
        .toContain('@viewer_e2e hello from the e2e test');
    }

    // Hostile chat text is shown as text and never runs.
    const hostile = '<img src=x onerror="window.__xss=3"><script>window.__xss=4</script>';
    await page.fill('[data-testid=chat-input]', hostile);
    await page.click('[data-testid=chat-send]');
    await expect.poll(() => other.locator('[data-testid=chat-items]').textContent()).toContain(hostile);
    for (const pg of [page, other]) {
      expect(await pg.evaluate('typeof window.__xss')).toBe('undefined');
      expect(await pg.locator('[data-testid=chat-items] img').count()).toBe(0);
    }

    // A paid stamp: the balance drops by its price, and it appears in both chats.
    const before = Number(await page.getAttribute('[data-testid=balance]', 'data-balance'));
    expect(before).toBe(100);
    const paid = page.locator('button[data-stamp]:not([data-price="0"])').first();
    const price = Number(await paid.getAttribute('data-price'));
    const stampId = await paid.getAttribute('data-stamp');
    await paid.click();
    await expect.poll(() => page.getAttribute('[data-testid=balance]', 'data-balance')).toBe(String(before - price));
    for (const pg of [page, other]) {
      await expect.poll(() => pg.locator(`[data-testid=chat-items] [data-stamp-id="${stampId}"]`).count()).toBe(1);
    }
    // A stamp dearer than what is left is refused with a clear message, before anything is charged.
    const dear = page.locator('button[data-stamp]').filter({ has: page.locator('.stamp-price') });
    const prices = await dear.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-price'))));
    const tooDear = prices.findIndex((x) => x > before - price);
    if (tooDear >= 0) {
      await dear.nth(tooDear).click();
      await expect.poll(() => page.locator('[data-testid=stamp-notice]').textContent()).toContain('Not enough points');
      expect(await page.getAttribute('[data-testid=balance]', 'data-balance')).toBe(String(before - price));
    }

    // The phone-width stream page.
    const phone = await browser({ width: 390, height: 844 });
    opened.push(phone);
    const small = await phone.context.newPage();
    await small.goto(`${web}/streams/${world.streamId}`);
    await small.locator('[data-testid=video]').waitFor();
    await expect.poll(() => currentTime(small), { timeout: 20_000 }).toBeGreaterThan(0.5);
    const overflow = await small.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await small.screenshot({ path: join(ARTIFACTS, '03-stream-phone.png'), fullPage: true });

    // Kill a backend: the page still renders, with the sections it fed marked as unavailable.
    await p.services.get('stamp')?.built.close();
    await page.reload();
    await page.locator('[data-degraded=supporters]').waitFor();
    expect(await page.locator('[data-testid=stream-title]').textContent()).toBe('Any% practice, live');
    await page.screenshot({ path: join(ARTIFACTS, '04-stream-degraded.png'), fullPage: true });

    // Log out: the cookies are gone and the header offers log in again.
    await page.click('[data-testid=logout]');
    await page.waitForURL(`${web}/`);
    expect(await page.locator('[data-testid=whoami]').count()).toBe(0);
    const left = (await a.context.cookies(web)).map((c) => c.name);
    expect(left).not.toContain('__Host-lh_at');
    expect(left).not.toContain('__Host-lh_rt');
    console.log(`web e2e: JS gzip home ${home.total} B, stream page ${stream.total} B (${stream.urls.length} scripts)`);
  }, 120_000);

  it('when a stream goes live while its page shows the offline card, then the player starts by itself, without a reload', async () => {
    const api = bffApi(p);
    const signup = await api('POST', '/auth/signup', {
      body: { handle: 'soon_live', email: 'soon_live@example.com', password: STREAMER_PASSWORD },
    });
    const user = { id: signup.body.account.id as string, roles: ['streamer' as const] };
    const channel = await api('POST', '/me/channel', {
      token: signup.body.tokens.accessToken,
      body: { title: 'Later' },
    });
    expect(channel.status).toBe(201);
    // A scheduled stream: its page exists before it goes live.
    const scheduled = await p.call('contents', 'POST', `/channels/${channel.body.channel.id}/streams`, {
      user,
      body: { title: 'Starting soon' },
    });
    expect([scheduled.status, scheduled.body.state]).toEqual([201, 'scheduled']);

    const b = await browser();
    opened.push(b);
    const page = await b.context.newPage();
    await page.goto(`${web}/streams/${scheduled.body.id}`);
    await page.locator('[data-testid=offline-card][data-state=scheduled]').waitFor();
    await page.locator('html[data-hydrated=true]').waitFor();
    await page.evaluate('window.__samePage = true');

    const started = await p.call('contents', 'POST', `/streams/${scheduled.body.id}/start`, { user });
    expect(started.body.state).toBe('live');
    // The offline card polls every 3 s; generous for a loaded machine.
    await page.locator('[data-testid=video]').waitFor({ timeout: 30_000 });
    await expect.poll(() => currentTime(page), { timeout: 20_000 }).toBeGreaterThan(0.5);
    expect(await page.evaluate('window.__samePage')).toBe(true);
    expect(await page.locator('[data-testid=offline-card]').count()).toBe(0);
  }, 90_000);

  it('when the chat socket drops, then the chat reconnects and shows what was said meanwhile, once', async () => {
    const a = await browser();
    const b = await browser();
    opened.push(a, b);
    const [pa, pb] = [await a.context.newPage(), await b.context.newPage()];
    await logIn(pa, 'viewer_e2e', PASSWORD);
    await logIn(pb, world.streamer.handle, STREAMER_PASSWORD);

    // A's chat socket goes through a route the test controls: it can cut it and hold the reconnection back.
    let current: { page: WebSocketRoute; server: WebSocketRoute } | null = null;
    let hold: Promise<void> | null = null;
    const urls: string[] = [];
    await pa.routeWebSocket(/\/chat(\?|$)/, async (ws) => {
      urls.push(ws.url());
      if (hold) await hold;
      current = { page: ws, server: ws.connectToServer() };
    });
    const connected = (pg: Page) =>
      expect
        .poll(() => pg.getAttribute('[data-testid=chat-status]', 'class'), { timeout: 20_000 })
        .toContain('connected');
    for (const pg of [pa, pb]) {
      await pg.goto(`${web}/streams/${world.streamId}`);
      await connected(pg);
    }
    await pa.fill('[data-testid=chat-input]', 'before the drop');
    await pa.click('[data-testid=chat-send]');
    await expect.poll(() => pb.locator('[data-testid=chat-items]').textContent()).toContain('before the drop');

    let release = () => {};
    hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const cut = current as { page: WebSocketRoute; server: WebSocketRoute } | null;
    await cut?.server.close();
    await cut?.page.close({ code: 1012, reason: 'restart' });
    await expect
      .poll(() => pa.getAttribute('[data-testid=chat-status]', 'class'), { timeout: 20_000 })
      .toContain('reconnecting');
    for (const text of ['said while A was away', 'and once more']) {
      await pb.fill('[data-testid=chat-input]', text);
      await pb.click('[data-testid=chat-send]');
      await expect.poll(() => pb.locator('[data-testid=chat-items]').textContent()).toContain(text);
    }
    expect(await pa.locator('[data-testid=chat-items]').textContent()).not.toContain('said while A was away');

    release();
    await connected(pa);
    for (const text of ['said while A was away', 'and once more']) {
      await expect.poll(() => pa.locator('[data-testid=chat-items] .msg', { hasText: text }).count()).toBe(1);
    }
    // It resumed from the last item it had (no full reload of the history), and nothing came twice.
    expect(urls).toHaveLength(2);
    expect(urls[1]).toMatch(/\?since=\d+$/);
    expect(await pa.locator('[data-testid=chat-items] .msg', { hasText: 'before the drop' }).count()).toBe(1);
    await pa.screenshot({ path: join(ARTIFACTS, '05-chat-resumed.png') });
  }, 90_000);

  it('when the streamer regenerates the stream key, then the new key is shown once and the old one is refused', async () => {
    const s = await browser();
    opened.push(s);
    const page = await s.context.newPage();
    await logIn(page, world.streamer.handle, STREAMER_PASSWORD);
    const verify = (key: string) => p.call('contents', 'POST', '/stream-keys/verify', { as: 'ingest', body: { key } });
    expect((await verify(world.streamKey)).body).toEqual({ channelId: world.channelId });

    await page.goto(`${web}/dashboard`);
    expect(await page.locator('[data-testid=stream-key]').count()).toBe(0);
    await page.click('[data-testid=regenerate-key]');
    const key = (await page.locator('[data-testid=stream-key]').textContent({ timeout: 20_000 }))?.trim() ?? '';
    expect(key.length).toBeGreaterThan(20);
    expect(key).not.toBe(world.streamKey);
    expect((await verify(key)).body).toEqual({ channelId: world.channelId });
    const old = await verify(world.streamKey);
    expect([old.status, old.body.error.code]).toEqual([404, 'not_found']);
    await page.screenshot({ path: join(ARTIFACTS, '06-dashboard-new-key.png') });

    // Shown once: the dashboard never shows it again, nor is it anywhere in the page.
    await page.goto(`${web}/dashboard`);
    expect(await page.locator('[data-testid=stream-key]').count()).toBe(0);
    expect(await page.content()).not.toContain(key);
  }, 90_000);
});

/** Logs in through the login form. */
async function logIn(page: Page, login: string, password: string) {
  await page.goto(`${web0}/login`);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await page.click('[data-testid=auth-submit]');
  await page.locator('[data-testid=whoami]').waitFor({ timeout: 20_000 });
}
