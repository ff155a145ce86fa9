import type { TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countAccounts, dbKinds, newAccount, startAuthPlatform } from './helpers.ts';

const valid = newAccount('v');

/** Each is wrong in one way; none may create an account. */
const badBodies: [string, unknown][] = [
  ['malformed JSON', '{"handle": "abc", '],
  ['an empty object', {}],
  ['an array', [valid]],
  ['a JSON string', JSON.stringify('hello')],
  ['null', 'null'],
  ['a missing password', { handle: valid.handle, email: valid.email }],
  ['a missing handle', { email: valid.email, password: valid.password }],
  ['an extra field', { ...valid, roles: ['admin'] }],
  ['a numeric handle', { ...valid, handle: 12345 }],
  ['a boolean password', { ...valid, password: true }],
  ['an email object', { ...valid, email: { address: valid.email } }],
  ['an overlong handle', { ...valid, handle: 'a'.repeat(21) }],
  [
    'an overlong email',
    { ...valid, email: `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com` },
  ],
  ['an overlong password', { ...valid, password: 'p'.repeat(129) }],
  ['a short password', { ...valid, password: 'short' }],
  ['an uppercase handle', { ...valid, handle: 'Alice' }],
  ['a handle with a dash', { ...valid, handle: 'bad-handle' }],
  ['a two-letter handle', { ...valid, handle: 'ab' }],
  ['a handle with an @', { ...valid, handle: 'a@b' }],
  ['an email without @', { ...valid, email: 'not-an-email' }],
  ['an email with spaces', { ...valid, email: 'a b@example.com' }],
  [
    'a prototype-polluting body',
    '{"handle":"abc_def","email":"a@example.com","password":"1234567890","__proto__":{"x":1}}',
  ],
];

const expectErrorFormat = (body: { error?: { code?: unknown; message?: unknown; requestId?: unknown } }) => {
  expect(typeof body.error?.code).toBe('string');
  expect(typeof body.error?.message).toBe('string');
  expect(typeof body.error?.requestId).toBe('string');
};

describe.each(dbKinds)('sign-up input on %s', (kind) => {
  let p: TestPlatform;
  beforeAll(async () => {
    p = await startAuthPlatform(kind);
  });
  afterAll(() => p?.close());

  const signUp = (body: unknown) => p.call('auth', 'POST', '/accounts', { body });

  it.each(badBodies)(
    'when the body has %s, then 400 in the error format and no account is written',
    async (_, body) => {
      const before = await countAccounts(p);
      const res = await signUp(body);
      expect(res.status).toBe(400);
      expectErrorFormat(res.body);
      expect(['invalid_json', 'validation_failed', 'bad_request']).toContain(res.body.error.code);
      expect(await countAccounts(p)).toBe(before);
    },
  );

  it('when login, refresh and logout bodies are malformed, then 400 validation_failed', async () => {
    for (const [path, body] of [
      ['/sessions', { login: '', password: 'x' }],
      ['/sessions', { login: 'a', password: 'x'.repeat(129) }],
      ['/sessions/refresh', { refreshToken: 1 }],
      ['/sessions/logout', { refreshToken: 'x'.repeat(201) }],
    ] as const) {
      const res = await p.call('auth', 'POST', path, { body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
  });

  it('when sign-up bodies are arbitrary JSON or near-valid objects, then none yields a 5xx and only a 201 writes an account', async () => {
    const handle = fc.oneof(fc.stringMatching(/^[a-z0-9_]{3,20}$/), fc.string({ maxLength: 25 }), fc.integer());
    const email = fc.oneof(fc.emailAddress(), fc.string({ maxLength: 30 }), fc.constant(null));
    const password = fc.oneof(fc.string({ minLength: 10, maxLength: 40 }), fc.string({ maxLength: 12 }), fc.boolean());
    const nearValid = fc
      .record({ handle, email, password }, { requiredKeys: [] })
      .chain((body) =>
        fc.oneof(
          fc.constant(body),
          fc
            .dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue(), { maxKeys: 2 })
            .map((extra) => ({ ...extra, ...body })),
        ),
      )
      .map((body) => JSON.stringify(body));
    // Valid bodies, so that the happy path (argon2, the call to user) runs under the property too.
    const validBody = fc
      .record({
        handle: fc.stringMatching(/^[a-z0-9_]{3,20}$/),
        email: fc.stringMatching(/^[a-z0-9.]{1,20}$/).map((l) => `p.${l}@example.com`),
        // Any Unicode text (NUL and unpaired surrogates are invalid: contracts' Text rule).
        password: fc.string({ minLength: 10, maxLength: 40, unit: 'grapheme' }),
      })
      .map((body) => JSON.stringify(body));
    const anyJson = fc.jsonValue().map((v) => JSON.stringify(v));
    const rawText = fc.string({ maxLength: 40 }).filter((s) => s.trim().length > 0);

    let created = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(validBody, nearValid, nearValid, anyJson, rawText), async (body) => {
        const before = await countAccounts(p);
        const res = await signUp(body);
        expect([201, 400, 409]).toContain(res.status);
        if (res.status === 201) created++;
        else expectErrorFormat(res.body);
        expect(await countAccounts(p)).toBe(before + (res.status === 201 ? 1 : 0));
      }),
      { numRuns: 100 },
    );
    // The generators must reach the happy path too, or the property says little about it.
    expect(created).toBeGreaterThan(0);
    // 100 sign-ups, some hashing a password each: room for a loaded two-core machine.
  }, 90_000);
});
