import { randomBytes } from 'node:crypto';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import type { AuthConfig } from './auth.config.ts';

// `Algorithm` is an ambient const enum, which erasable TypeScript cannot read at run time: Argon2id is 2.
const ARGON2ID = 2 satisfies Algorithm.Argon2id;

/** argon2id hashing; passwords are NFC-normalised so the same characters typed anywhere match. */
export class PasswordHasher {
  readonly #options;
  /** Made at start-up, so that even the first unknown login costs no more than a wrong password. */
  readonly #dummy: Promise<string>;

  constructor(config: AuthConfig['passwordHashing']) {
    this.#options = {
      algorithm: ARGON2ID as Algorithm,
      memoryCost: config.memoryCostKiB,
      timeCost: config.timeCost,
      parallelism: config.parallelism,
    };
    this.#dummy = this.hash(randomBytes(16).toString('base64url'));
  }

  hash(password: string) {
    return hash(password.normalize('NFC'), this.#options);
  }

  verify(passwordHash: string, password: string) {
    return verify(passwordHash, password.normalize('NFC'));
  }

  /** Costs what a real verification costs, so an unknown login answers as slowly as a wrong password. */
  async verifyNothing(password: string) {
    await this.verify(await this.#dummy, password);
    return false;
  }
}
