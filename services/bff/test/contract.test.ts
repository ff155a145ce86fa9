import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestPlatform } from '@livehouse/kit/testing';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contract, contractKey } from '../src/openapi.ts';
import { buildWorld, publicApi, startBff, type World } from './helpers.ts';

const run = promisify(execFile);
// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const root = resolve(import.meta.dirname, '../../..');

interface Operation {
  operationId?: string;
  summary?: string;
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; required?: boolean; schema?: { pattern?: string } }[];
  responses: Record<string, { content?: unknown; headers?: Record<string, unknown> }>;
  requestBody?: { content: Record<string, { schema: unknown; example?: unknown }> };
}
type Doc = { paths: Record<string, Record<string, Operation>> };

describe('the public API contract', () => {
  let p: TestPlatform;
  let doc: Doc;
  let w: World;
  let web: ReturnType<typeof publicApi>;

  beforeAll(async () => {
    p = await startBff('pglite');
    doc = (await (await fetch(`${p.url('bff')}/docs/json`)).json()) as Doc;
    w = await buildWorld(p);
    web = publicApi(`${p.url('bff')}/web/v1`);
  }, 120_000);
  afterAll(() => p?.close());

  /** Fastify's routes; the chat WebSocket (101) is an upgrade outside them, checked on its own below. */
  const operations = () =>
    Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })))
      .filter(({ op }) => !op.responses['101']);

  it('when the document is linted with Redocly’s recommended rules (redocly.yaml), then it has no error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      await writeFile(file, JSON.stringify(doc));
      const redocly = join(root, 'node_modules/.bin/redocly');
      const result = await run(redocly, ['lint', file, '--config', join(root, 'redocly.yaml'), '--format', 'json'], {
        cwd: root,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        timeout: 60_000,
        maxBuffer: 64 * 1024 * 1024,
      }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
      const report = JSON.parse(result.stdout) as {
        totals: { errors: number; warnings: number };
        problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
      };
      const errors = report.problems
        .filter((x) => x.severity === 'error')
        .map((x) => `${x.ruleId} ${x.location[0]?.pointer}: ${x.message}`);
      expect(errors).toEqual([]);
      expect(report.totals.errors).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('when the routes are listed, then each client route has a contract entry and each entry a route', () => {
    const keys = new Set<string>();
    for (const { path, method } of operations()) {
      // Client routes, and the provider's webhook route at the root.
      if (!/^\/(app|web)\/v1\//.test(path) && !path.startsWith('/webhooks/')) continue;
      const key = contractKey(method, path.replace(/\{([^}]+)\}/g, ':$1'));
      expect(contract[key], `${key}: add it to services/bff/src/openapi.ts`).toBeDefined();
      keys.add(key);
    }
    expect(Object.keys(contract).filter((k) => !keys.has(k))).toEqual([]);
  });

  it('when operations are read, then ids are unique, each says its security, and each documents its errors', () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const count = { required: 0, optional: 0 };
    for (const { path, method, op } of operations()) {
      expect(op.summary, `${method} ${path}`).toBeTruthy();
      expect(op.security, `${method} ${path}`).toBeDefined();
      if (op.security?.length === 1 && op.security[0]?.bearer) count.required++;
      if (op.security?.some((s) => Object.keys(s).length === 0) && op.security.length === 2) count.optional++;
      expect(
        Object.keys(op.responses).some((s) => s.startsWith('4')),
        `${method} ${path}`,
      ).toBe(true);
      for (const [status, res] of Object.entries(op.responses)) {
        expect(res.headers?.['x-request-id'], `${method} ${path} ${status}`).toBeDefined();
      }
    }
    // Per client: every command or view that needs a token, and every one a token personalises.
    expect(count.required).toBeGreaterThanOrEqual(2 * 10);
    expect(count.optional).toBeGreaterThanOrEqual(2 * 7);
  });

  it('when logging out, then the answer is the documented 204 with no body', async () => {
    const login = await web('POST', '/auth/login', { body: { login: 'viewer1', password: 'long-enough-secret' } });
    expect(login.status).toBe(200);
    const out = await web('POST', '/auth/logout', { body: { refreshToken: login.body.tokens.refreshToken } });
    expect(out.status).toBe(204);
    expect(out.body).toBeUndefined();
    expect(Object.keys(doc.paths['/web/v1/auth/logout']?.post?.responses ?? {})).toContain('204');
    expect(Object.keys(doc.paths['/web/v1/auth/logout']?.post?.responses ?? {})).not.toContain('200');
  });

  it('when a stale or forged token is sent to a public endpoint, then it answers as anonymous; a protected one 401', async () => {
    const forged = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    for (const path of ['/home', '/stamps/catalog']) {
      const res = await web('GET', path, { token: forged });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('www-authenticate'), path).toContain('invalid_token');
    }
    const login = await web('POST', '/auth/login', {
      token: forged,
      body: { login: 'viewer1', password: 'long-enough-secret' },
    });
    expect(login.status).toBe(200);
    expect((await web('GET', '/me', { token: forged })).body.error.code).toBe('token_invalid');
  });

  it('when a protected command has no token and a bad body, then it answers 401 before looking at the body', async () => {
    const res = await web('PATCH', '/me', { body: { displayName: 42, nope: true } });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('token_missing');
  });

  it('when the Idempotency-Key is missing or malformed, then the codes differ, and the document says it is required', async () => {
    const catalog = await web('GET', '/stamps/catalog');
    const stampId = (catalog.body.items as { id: string }[])[0]?.id;
    const send = (key?: string) =>
      web('POST', `/streams/${w.streamId}/stamps`, {
        token: w.viewer.token,
        body: { stampId },
        ...(key !== undefined && { headers: { 'idempotency-key': key } }),
      });
    expect((await send()).body.error.code).toBe('idempotency_key_required');
    expect((await send('has space')).body.error.code).toBe('idempotency_key_invalid');
    expect((await send('k'.repeat(101))).body.error.code).toBe('idempotency_key_invalid');
    const param = doc.paths['/web/v1/streams/{streamId}/stamps']?.post?.parameters?.find(
      (x) => x.in === 'header' && x.name === 'idempotency-key',
    );
    expect(param?.required).toBe(true);
    expect(param?.schema?.pattern).toBe('^[A-Za-z0-9_.:-]{1,100}$');
    expect(Object.keys(doc.paths['/web/v1/streams/{streamId}/stamps']?.post?.responses ?? {})).not.toContain('200');
  });

  it('when a paid stamp is sent again with its key, then the replay is marked Idempotent-Replayed', async () => {
    const catalog = await web('GET', '/stamps/catalog');
    const paid = (catalog.body.items as { id: string; price: number; channelId: string | null }[]).find(
      (s) => s.price > 0 && s.price <= 50 && s.channelId === null,
    );
    const send = () =>
      web('POST', `/streams/${w.streamId}/stamps`, {
        token: w.viewer.token,
        body: { stampId: paid?.id },
        headers: { 'idempotency-key': 'contract-replay-1' },
      });
    const first = await send();
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await send();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it('when any answer is given, success or error, then it carries x-request-id', async () => {
    for (const res of [await web('GET', '/home'), await web('GET', '/me'), await web('GET', '/streams/not-a-uuid')]) {
      expect(res.headers.get('x-request-id')).toMatch(/.+/);
    }
  });

  it('when a body is sent as text/plain, then the answer is 415 unsupported_media_type', async () => {
    const res = await fetch(`${p.url('bff')}/web/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'login=viewer1',
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
  });

  it('when the document is read, then enums are enums, view ids are uuids, times date-times, and the chat socket is there', () => {
    const text = JSON.stringify(doc);
    const oneValueAnyOf = /"anyOf":\[\{("type":"string",)?"enum":\["[^"]*"\]\}/;
    expect(text).not.toMatch(oneValueAnyOf);
    const stream = doc.paths['/web/v1/streams/{id}']?.get?.responses['200']?.content as Record<
      string,
      { schema: { properties: { stream: { properties: Record<string, { format?: string; enum?: string[] }> } } } }
    >;
    const props = stream['application/json']?.schema.properties.stream.properties;
    expect(props?.id?.format).toBe('uuid');
    expect(props?.startedAt?.format).toBe('date-time');
    expect(props?.state?.enum).toEqual(['scheduled', 'live', 'ended']);
    for (const client of ['app', 'web']) {
      const chat = doc.paths[`/${client}/v1/streams/{id}/chat`]?.get;
      expect(chat?.responses['101']).toBeDefined();
      expect(JSON.stringify(chat)).toContain('PROTOCOL.md');
    }
  });

  it('when a command takes a JSON body, then the document shows an example that its own schema accepts', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(doc as unknown as Record<string, unknown>, 'openapi.json');
    const commands = operations().filter(({ op }) => op.requestBody?.content['application/json']);
    expect(commands.length).toBeGreaterThanOrEqual(18);
    for (const { path, method, op } of commands) {
      const media = op.requestBody?.content['application/json'];
      expect(media?.example, `${method} ${path}`).toBeDefined();
      const pointer = ['paths', path, method, 'requestBody', 'content', 'application/json', 'schema']
        .map((x) => x.replace(/~/g, '~0').replace(/\//g, '~1'))
        .join('/');
      const validate = ajv.compile({ $ref: `openapi.json#/${pointer}` });
      expect(validate(media?.example), `${method} ${path}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  });

  it('when a view is asked for again with its ETag, then it is a 304 with no body; a personal view is private and varies by token', async () => {
    for (const client of ['app', 'web']) {
      for (const path of ['/home', `/streams/${w.streamId}`, `/channels/${w.channelId}`, `/users/${w.streamer.id}`]) {
        const url = `${p.url('bff')}/${client}/v1${path}`;
        const first = await fetch(url);
        expect(first.status, url).toBe(200);
        await first.arrayBuffer();
        const etag = first.headers.get('etag') ?? '';
        expect(etag, url).toMatch(/^W\/"[\w-]+"$/);
        expect(first.headers.get('cache-control'), url).toBe('public, max-age=5');
        expect(first.headers.get('vary'), url).toMatch(/authorization/i);
        const again = await fetch(url, { headers: { 'if-none-match': `"other", ${etag}` } });
        expect(again.status, url).toBe(304);
        expect(again.headers.get('etag'), url).toBe(etag);
        expect(again.headers.get('content-type'), url).toBeNull();
        expect(await again.text(), url).toBe('');
        const stale = await fetch(url, { headers: { 'if-none-match': 'W/"stale"' } });
        expect(stale.status, url).toBe(200);
        await stale.arrayBuffer();
      }
      const mine = await fetch(`${p.url('bff')}/${client}/v1/home`, {
        headers: { authorization: `Bearer ${w.viewer.token}` },
      });
      expect(mine.status).toBe(200);
      const body = await mine.text();
      expect(mine.headers.get('cache-control')).toBe('private, no-cache');
      const mineAgain = await fetch(`${p.url('bff')}/${client}/v1/home`, {
        headers: { authorization: `Bearer ${w.viewer.token}`, 'if-none-match': mine.headers.get('etag') ?? '' },
      });
      // The wallet or timeline may have moved between the two reads; either answer is a correct one.
      expect([200, 304]).toContain(mineAgain.status);
      if (mineAgain.status === 200) expect(await mineAgain.text()).not.toBe(body);
    }
    const home = doc.paths['/web/v1/home']?.get;
    expect(home?.responses['304']).toBeDefined();
    expect(home?.parameters?.some((x) => x.in === 'header' && x.name === 'if-none-match')).toBe(true);
  });

  it('when the catalog is asked for with a weak tag, a list or *, then each gets a 304 with no body or content type', async () => {
    const first = await fetch(`${p.url('bff')}/web/v1/stamps/catalog`);
    const etag = first.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"/);
    await first.arrayBuffer();
    for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await fetch(`${p.url('bff')}/web/v1/stamps/catalog`, { headers: { 'if-none-match': ifNoneMatch } });
      expect(res.status, ifNoneMatch).toBe(304);
      expect(res.headers.get('content-type'), ifNoneMatch).toBeNull();
      expect(await res.text(), ifNoneMatch).toBe('');
    }
    const params = doc.paths['/web/v1/stamps/catalog']?.get?.parameters ?? [];
    expect(params.some((x) => x.in === 'header' && x.name === 'if-none-match')).toBe(true);
    const stale = await fetch(`${p.url('bff')}/web/v1/stamps/catalog`, { headers: { 'if-none-match': '"stale"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
  });
});
