import { dbKinds, type TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import en from '../client/messages/en.json' with { type: 'json' };
import ja from '../client/messages/ja.json' with { type: 'json' };
import { negotiateLocale, safeBack } from '../src/locale.ts';
import { bffApi, Jar, liveStreamer, startWeb, type World } from './helpers.ts';

const HOSTILE_SCRIPT = '<script>window.__xss=1</script>';
const HOSTILE_ATTR = '"><img src=x onerror="window.__xss=2">';

/** The form token a page embeds (the CSRF cookie comes with the page). */
const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** A browser-like client: a cookie jar, same-origin form posts. */
function client(base: string) {
  const jar = new Jar();
  const request = async (
    method: string,
    path: string,
    init: { form?: Record<string, string>; headers?: Record<string, string> } = {},
  ) => {
    const res = await fetch(base + path, {
      method,
      redirect: 'manual',
      headers: {
        cookie: jar.header(),
        ...(init.form && { 'content-type': 'application/x-www-form-urlencoded' }),
        ...init.headers,
      },
      ...(init.form && { body: new URLSearchParams(init.form).toString() }),
    });
    jar.store(res);
    return { res, text: await res.text() };
  };
  return {
    jar,
    request,
    get: (path: string, headers: Record<string, string> = {}) => request('GET', path, { headers }),
    /** Loads `page` for its form token, then posts `form` to `action` as that page would. */
    async submit(page: string, action: string, form: Record<string, string>, headers: Record<string, string> = {}) {
      const { text } = await request('GET', page);
      return request('POST', action, { form: { _csrf: csrfOf(text), ...form }, headers });
    },
  };
}

describe.each(dbKinds)('web pages on %s', (kind) => {
  let p: TestPlatform;
  let web: string;
  let world: World;
  let hostile: World;

  beforeAll(async () => {
    p = await startWeb(kind);
    web = p.url('web');
    world = await liveStreamer(p, `streamer_${kind}`, { channel: 'Speedrun Club', stream: 'Any% practice' });
    hostile = await liveStreamer(p, `hostile_${kind}`, { channel: HOSTILE_SCRIPT, stream: HOSTILE_ATTR });
    const api = bffApi(p);
    await api('PATCH', '/me', { token: hostile.streamer.token, body: { bio: `${HOSTILE_SCRIPT} ${HOSTILE_ATTR}` } });
  }, 90_000);
  afterAll(async () => p?.close());

  it('when a stream page is requested, then the server streams its HTML with the view and the islands in it', async () => {
    const { res, text } = await client(web).get(`/streams/${world.streamId}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(text).toContain('<h1 data-testid="stream-title">Any% practice</h1>');
    expect(text).toContain('@streamer_');
    for (const island of ['player', 'chat', 'follow']) expect(text).toContain(`data-island="${island}"`);
    // Offline until the video plane gives a playback URL (none is configured here).
    expect(text).toContain('data-testid="offline-card"');
    // A logged-out page without forms sets no CSRF cookie (making one per anonymous page was its dearest part).
    expect(res.headers.getSetCookie().filter((l) => l.includes('lh_csrf'))).toEqual([]);
  });

  it('when stream pages are rendered, then the stamp picker comes from the catalog the web server fetched once', async () => {
    // The BFF's view carries only the catalog's version; the web server holds the catalog itself.
    const bffAdmin = p.services.get('bff')?.adminUrl ?? '';
    const catalogCalls = async () =>
      (await (await fetch(`${bffAdmin}/metrics`)).text())
        .split('\n')
        .filter((l) => l.startsWith('http_request_duration_seconds_count{') && l.includes('/stamps/catalog"'))
        .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    const c = client(web);
    const first = await c.get(`/streams/${world.streamId}`);
    const after1 = await catalogCalls();
    expect(after1).toBeGreaterThanOrEqual(1);
    for (const id of [world.streamId, hostile.streamId, world.streamId]) {
      const { text } = await c.get(`/streams/${id}`);
      expect(text).toMatch(/&quot;stamps&quot;:\[\{&quot;id&quot;/);
    }
    expect(await catalogCalls()).toBe(after1);
    expect(first.text).toMatch(/&quot;price&quot;:0/);
  });

  it('when a viewer signs up through the form, then the session is in HttpOnly, Secure, SameSite cookies and the page shows the wallet', async () => {
    const c = client(web);
    const { res } = await c.submit('/signup', '/signup', {
      handle: `fan_${kind}`,
      email: `fan_${kind}@example.com`,
      password: 'a-long-password',
      next: `/streams/${world.streamId}`,
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/streams/${world.streamId}`);
    const cookies = res.headers.getSetCookie();
    for (const name of ['__Host-lh_at', '__Host-lh_rt']) {
      const line = cookies.find((l) => l.startsWith(`${name}=`)) ?? '';
      expect(line).toMatch(/; HttpOnly/);
      expect(line).toMatch(/; Secure/);
      expect(line).toMatch(/; SameSite=Lax/);
      expect(line).toMatch(/; Path=\//);
    }
    const page = await c.get(`/streams/${world.streamId}`);
    expect(page.text).toContain(`@fan_${kind}`);
    expect(page.text).toContain('&quot;balance&quot;:0');
    // No token ever reaches the HTML (page JavaScript could read it there).
    const token = c.jar.cookies.get('__Host-lh_at') ?? '';
    expect(token.length).toBeGreaterThan(20);
    expect(page.text).not.toContain(token);
    expect(page.text).not.toContain(c.jar.cookies.get('__Host-lh_rt'));
  });

  it('when the buy form is submitted twice, then one checkout is opened and the buyer is sent to its page', async () => {
    const c = client(web);
    await c.submit('/signup', '/signup', {
      handle: `buyer_${kind}`,
      email: `buyer_${kind}@example.com`,
      password: 'a-long-password',
    });
    const wallet = await c.get('/wallet');
    expect(wallet.text).toContain('data-pack="p500"');
    const key = /name="idempotencyKey" value="([^"]+-p500)"/.exec(wallet.text)?.[1] ?? '';
    expect(key).not.toBe('');
    const buy = () =>
      c.request('POST', '/wallet/checkout', {
        form: { _csrf: csrfOf(wallet.text), packId: 'p500', idempotencyKey: key },
      });
    const [first, second] = [await buy(), await buy()];
    expect(first.res.status).toBe(303);
    const url = first.res.headers.get('location') ?? '';
    expect(url).toMatch(/\/pay\/cs_/);
    expect(second.res.headers.get('location')).toBe(url);
    // The pay page's origin is allowed as a form target (the redirect), and nothing else is.
    expect(wallet.res.headers.get('content-security-policy')).toContain(`form-action 'self' ${new URL(url).origin}`);
    // Back from the provider without paying: the wallet says the checkout is still open.
    const back = await c.get(`/wallet?checkout=${/cs_[A-Za-z0-9_]+/.exec(url)?.[0]}`);
    expect(back.text).toContain('data-status="open"');
  });

  it('when a form is posted cross-site or without its token, then it is refused and nothing changes', async () => {
    const c = client(web);
    await c.submit('/signup', '/signup', {
      handle: `csrf_${kind}`,
      email: `csrf_${kind}@example.com`,
      password: 'a-long-password',
    });
    const follows = async () => (await c.get(`/streams/${world.streamId}`)).text.includes('aria-pressed="true"');
    const attempts = [
      c.request('POST', `/follow/${world.streamer.id}`, { form: { follow: 'true' } }),
      c.submit('/', `/follow/${world.streamer.id}`, { follow: 'true' }, { origin: 'https://evil.example' }),
      c.submit('/', `/follow/${world.streamer.id}`, { follow: 'true' }, { 'sec-fetch-site': 'cross-site' }),
      c.request('POST', `/follow/${world.streamer.id}`, { form: { follow: 'true', _csrf: 'forged-token' } }),
    ];
    for (const attempt of attempts) {
      const { res, text } = await attempt;
      expect(res.status, text).toBe(403);
      expect(JSON.parse(text).error.code).toBe('forbidden');
    }
    expect(await follows()).toBe(false);
    const logout = await c.request('POST', '/logout', { form: {} });
    expect(logout.res.status).toBe(403);
    expect((await c.get('/')).text).toContain(`@csrf_${kind}`);
    // The same post from our own page goes through.
    const ok = await c.submit('/', `/follow/${world.streamer.id}`, { follow: 'true', back: '/' });
    expect(ok.res.status).toBe(303);
    expect(await follows()).toBe(true);
  });

  it('when titles and bios carry <script> and "><img onerror>, then every page shows them as text', async () => {
    const c = client(web);
    for (const path of [
      `/streams/${hostile.streamId}`,
      `/channels/${hostile.channelId}`,
      `/users/${hostile.streamer.id}`,
      '/',
    ]) {
      const { res, text } = await c.get(path);
      expect(res.status, path).toBe(200);
      expect(text, path).not.toContain('<script>window.__xss');
      expect(text, path).not.toContain('<img src=x');
      expect(text, path).toMatch(/&lt;script&gt;window.__xss=1&lt;\/script&gt;|&lt;img src=x/);
    }
    // The title tag too.
    const stream = await c.get(`/streams/${hostile.streamId}`);
    expect(stream.text).toContain(
      '<title>&quot;&gt;&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt; · livehouse</title>',
    );
  });

  it('when any page is served, then its Content-Security-Policy allows scripts only from its own origin', async () => {
    const { res, text } = await client(web).get('/');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    // Every script element is external or inert JSON data.
    for (const tag of text.match(/<script[^>]*>/g) ?? []) {
      expect(tag).toMatch(/type="module"[^>]* src="\/assets\/|type="application\/json"/);
    }
  });

  it('when Accept-Language prefers Japanese, then the page is Japanese; the switch overrides it and never leaves the site', async () => {
    const c = client(web);
    const ja1 = await c.get('/', { 'accept-language': 'ja-JP,ja;q=0.9,en;q=0.5' });
    expect(ja1.text).toContain('<html lang="ja">');
    expect(ja1.text).toContain('配信中');
    const sw = await c.get('/lang/en?back=%2Fstreams%2Fx');
    expect(sw.res.status).toBe(303);
    expect(sw.res.headers.get('location')).toBe('/streams/x');
    const en1 = await c.get('/', { 'accept-language': 'ja' });
    expect(en1.text).toContain('<html lang="en">');
    expect(en1.text).toContain('Live now');
    const away = await c.get('/lang/ja?back=%2F%2Fevil.example%2F');
    expect(away.res.headers.get('location')).toBe('/');
  });

  it('when input is bad, then the answer is a 4xx page, never a 500', async () => {
    const c = client(web);
    expect((await c.get('/streams/not-a-uuid')).res.status).toBe(400);
    expect((await c.get('/streams/00000000-0000-4000-8000-000000000000')).res.status).toBe(404);
    const missing = await c.get('/no/such/page');
    expect(missing.res.status).toBe(404);
    expect(missing.text).toContain('<html lang="en">');
    const junk = await c.submit('/signup', '/signup', { handle: 'X!', email: 'nope', password: 'short' });
    expect(junk.res.status).toBe(400);
    expect(junk.text).toContain('data-testid="auth-error"');
    const extra = await c.submit('/signup', '/signup', { handle: 'x', evil: '1' } as Record<string, string>);
    expect(extra.res.status).toBe(400);
  });

  it('when a backend is dead, then the stream page still renders with its sections marked as unavailable', async () => {
    await p.services.get('stamp')?.built.close();
    const { res, text } = await client(web).get(`/streams/${world.streamId}`);
    expect(res.status).toBe(200);
    expect(text).toContain('data-degraded="supporters"');
    expect(text).toContain('<h1 data-testid="stream-title">Any% practice</h1>');
  });
});

describe('web messages and input helpers', () => {
  it('when the Japanese messages are compared with the English ones, then they have the same keys, none empty', () => {
    expect(Object.keys(ja).sort()).toEqual(Object.keys(en).sort());
    for (const [key, value] of Object.entries(ja)) expect(value.length, key).toBeGreaterThan(0);
  });

  it('when Accept-Language is anything at all, then the locale is en or ja, and ja only when asked for', () => {
    fc.assert(
      fc.property(fc.option(fc.string()), fc.option(fc.string()), (cookie, header) => {
        const locale = negotiateLocale(cookie ?? undefined, header ?? undefined);
        expect(['en', 'ja']).toContain(locale);
        if (locale === 'ja') expect(`${cookie ?? ''}${header ?? ''}`.toLowerCase()).toContain('ja');
      }),
    );
    expect(negotiateLocale(undefined, 'fr;q=1, ja;q=0.8, en;q=0.5')).toBe('ja');
    expect(negotiateLocale(undefined, 'en;q=0.9, ja;q=0.8')).toBe('en');
    expect(negotiateLocale('en', 'ja')).toBe('en');
  });

  it('when a "back" path is anything at all, then the redirect stays on this site', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.webUrl(), fc.webPath()), (raw) => {
        const back = safeBack(raw);
        expect(back.startsWith('/')).toBe(true);
        expect(back.startsWith('//')).toBe(false);
        expect(back.startsWith('/\\')).toBe(false);
        expect(new URL(back, 'https://web.example').origin).toBe('https://web.example');
      }),
    );
  });
});
