import { randomBytes } from 'node:crypto';
import { AppError } from '@livehouse/kit';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { BulkheadRejectedError, bulkhead } from 'cockatiel';
import type { AuthConfig } from './auth.config.ts';

// `Algorithm` is an ambient const enum, which erasable TypeScript cannot read at run time: Argon2id is 2.
const ARGON2ID = 2 satisfies Algorithm.Argon2id;

/** A 4xx, not a 5xx: a caller's breaker must not open because many people sign up at once. */
const busy = (err: unknown) => {
  if (!(err instanceof BulkheadRejectedError)) throw err;
  throw new AppError('rate_limited', 'too many password checks at once; try again in 1 s', {
    headers: { 'retry-after': '1' },
  });
};

/**
 * argon2id hashing; passwords are NFC-normalised so the same characters typed anywhere match.
 * Hashes for sign-ups and for logins run in two bounded pools (cockatiel bulkheads).
 */
export class PasswordHasher {
  readonly #options;
  readonly #signUps;
  readonly #logins;
  /** Made at start-up, so that even the first unknown login costs no more than a wrong password. */
  readonly #dummy: Promise<string>;

  constructor(config: AuthConfig['passwordHashing']) {
    this.#options = {
      algorithm: ARGON2ID as Algorithm,
      memoryCost: config.memoryCostKiB,
      timeCost: config.timeCost,
      parallelism: config.parallelism,
    };
    this.#signUps = bulkhead(config.signUpConcurrency, config.maxQueued);
    this.#logins = bulkhead(config.loginConcurrency, config.maxQueued);
    this.#dummy = hash(randomBytes(16).toString('base64url'), this.#options);
  }

  /** A new account's hash (the sign-up pool). */
  hash(password: string) {
    return this.#signUps.execute(() => hash(password.normalize('NFC'), this.#options)).catch(busy);
  }

  /** A login's check (the login pool). */
  verify(passwordHash: string, password: string) {
    return this.#logins.execute(() => verify(passwordHash, password.normalize('NFC'))).catch(busy);
  }

  /** Costs what a real verification costs, so an unknown login answers as slowly as a wrong password. */
  async verifyNothing(password: string) {
    await this.verify(await this.#dummy, password);
    return false;
  }
}
