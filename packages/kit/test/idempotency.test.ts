import { IDEMPOTENCY_KEY_PATTERN } from '@livehouse/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../src/errors.ts';
import { derivedIdempotencyKey, idempotencyKey } from '../src/idempotency.ts';

const codeOf = (headers: Record<string, string | string[] | undefined>) => {
  try {
    return idempotencyKey(headers);
  } catch (err) {
    return err instanceof AppError ? err.code : String(err);
  }
};

describe('the Idempotency-Key rule (the BFF and every backend)', () => {
  it('when the key is missing, malformed or sent twice, then required and invalid are told apart', () => {
    expect(codeOf({})).toBe('idempotency_key_required');
    for (const key of ['', 'has space', 'k'.repeat(101), 'ünïcode', 'a/b', ['a', 'b']]) {
      expect(codeOf({ 'idempotency-key': key }), String(key)).toBe('idempotency_key_invalid');
    }
    expect(codeOf({ 'idempotency-key': 'k'.repeat(100) })).toBe('k'.repeat(100));
    expect(codeOf({ 'idempotency-key': 'stamp:0f4c-9:a_b.c' })).toBe('stamp:0f4c-9:a_b.c');
  });

  it('when a service derives a key from any parts, then it obeys the rule, stays as it was when it fits, and is stable', () => {
    const part = fc.string({ unit: fc.constantFrom(...'abcXYZ019_.:-'.split('')), minLength: 1, maxLength: 100 });
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 3 }), (parts) => {
        const key = derivedIdempotencyKey('stamp', ...parts);
        expect(key).toMatch(new RegExp(IDEMPOTENCY_KEY_PATTERN));
        expect(derivedIdempotencyKey('stamp', ...parts)).toBe(key);
        const joined = ['stamp', ...parts].join(':');
        if (joined.length <= 100) expect(key).toBe(joined);
        else expect(key).not.toBe(derivedIdempotencyKey('stamp', ...parts, 'x'));
      }),
    );
  });
});
