import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../src/errors.ts';
import { InternalAuth } from '../src/internal-auth.ts';

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (err: unknown) => (err instanceof AppError ? err.code : String(err)),
  );

describe('internal tokens', () => {
  afterEach(() => vi.useRealTimers());

  it('when a verified token is presented again, then it names the same caller', async () => {
    const auth = new InternalAuth('k'.repeat(32));
    const token = await auth.sign({ service: 'stamp', user: { id: 'u1', roles: ['viewer'] } });
    const first = await auth.verify(`Bearer ${token}`);
    const again = await auth.verify(`Bearer ${token}`);
    expect(again).toEqual(first);
    expect(again).toEqual({ service: 'stamp', user: { id: 'u1', roles: ['viewer'] } });
  });

  it('when a remembered token outlives its expiry, then it is refused as expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-03T10:00:00Z'));
    const auth = new InternalAuth('k'.repeat(32), { ttlSeconds: 2 });
    const token = await auth.sign({ service: 'bff' });
    await auth.verify(`Bearer ${token}`);
    vi.setSystemTime(new Date('2026-12-03T10:00:03Z'));
    expect(await code(auth.verify(`Bearer ${token}`))).toBe('internal_token_expired');
  });

  it('when a remembered token is altered by one character, then the altered one is refused', async () => {
    const auth = new InternalAuth('k'.repeat(32));
    const token = await auth.sign({ service: 'bff', user: { id: 'u1', roles: ['viewer'] } });
    await auth.verify(`Bearer ${token}`);
    // The signature's first character: its 6 bits all count (the last one's low bits are base64url padding).
    const signatureAt = token.lastIndexOf('.') + 1;
    const swapped = token[signatureAt] === 'A' ? 'B' : 'A';
    const altered = `${token.slice(0, signatureAt)}${swapped}${token.slice(signatureAt + 1)}`;
    expect(await code(auth.verify(`Bearer ${altered}`))).toBe('internal_token_invalid');
    const other = new InternalAuth('o'.repeat(32));
    expect(await code(other.verify(`Bearer ${token}`))).toBe('internal_token_invalid');
  });

  it('when more tokens are verified than the cache holds, then every one still verifies', async () => {
    const auth = new InternalAuth('k'.repeat(32), { maxVerified: 2 });
    const tokens = await Promise.all(
      ['a', 'b', 'c', 'd'].map((id) => auth.sign({ service: 'bff', user: { id, roles: [] } })),
    );
    for (const round of [1, 2]) {
      for (const [i, t] of tokens.entries()) {
        expect((await auth.verify(`Bearer ${t}`)).user?.id, `round ${round}`).toBe(['a', 'b', 'c', 'd'][i]);
      }
    }
  });
});
