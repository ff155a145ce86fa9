import { createHash } from 'node:crypto';
import { IDEMPOTENCY_KEY_PATTERN } from '@livehouse/contracts';
import { AppError } from './errors.ts';

const form = new RegExp(IDEMPOTENCY_KEY_PATTERN);

/**
 * A write's Idempotency-Key, one rule for the BFF and every backend: 400 `idempotency_key_required`
 * without the header, `idempotency_key_invalid` when it is not 1–100 of A–Z a–z 0–9 _ . : - (or sent twice).
 */
export function idempotencyKey(headers: Record<string, string | string[] | undefined>): string {
  const key = headers['idempotency-key'];
  if (key === undefined) {
    throw new AppError('idempotency_key_required', 'send an Idempotency-Key header, the same one when you retry');
  }
  if (typeof key !== 'string' || !form.test(key)) {
    throw new AppError('idempotency_key_invalid', 'the Idempotency-Key must be 1–100 of A–Z a–z 0–9 _ . : -');
  }
  return key;
}

/**
 * The key a service sends for a write it makes on behalf of something keyed itself (a stamp send's spend,
 * a payment's purchase): its parts joined by `:`, as it always was while that fits the rule; a longer one
 * (a 100-character client key behind a prefix and a user id) becomes its prefix and a SHA-256, so it fits too.
 */
export function derivedIdempotencyKey(prefix: string, ...parts: string[]): string {
  const joined = [prefix, ...parts].join(':');
  if (form.test(joined)) return joined;
  return `${prefix}:${createHash('sha256').update(joined).digest('base64url')}`;
}
