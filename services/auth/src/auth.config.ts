import { type Static, Type } from 'typebox';

const Limit = (max: number, windowMs: number) =>
  Type.Object(
    {
      max: Type.Integer({ minimum: 1, default: max }),
      windowMs: Type.Integer({ minimum: 1000, default: windowMs }),
    },
    { default: {}, additionalProperties: false },
  );

/** auth's own section of its config file (`auth:`); every key has a default. */
export const AuthConfig = Type.Object(
  {
    accessTokenTtlSeconds: Type.Integer({ minimum: 60, maximum: 86400, default: 900 }),
    refreshTokenTtlSeconds: Type.Integer({ minimum: 3600, default: 30 * 86400 }),
    /** argon2id cost; the defaults are OWASP's minimum (19 MiB, 2 passes). Hashes keep their own parameters. */
    passwordHashing: Type.Object(
      {
        memoryCostKiB: Type.Integer({ minimum: 1024, maximum: 1048576, default: 19456 }),
        timeCost: Type.Integer({ minimum: 1, maximum: 10, default: 2 }),
        parallelism: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
        /**
         * Hashes run on libuv's 4 threads, shared with file and DNS work: at most this many at once for
         * logins and for sign-ups, apart, so a sign-up flood never queues in front of a login.
         */
        loginConcurrency: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
        signUpConcurrency: Type.Integer({ minimum: 1, maximum: 16, default: 1 }),
        /** Waiting beyond this many is refused at once (429 with Retry-After), not queued without end. */
        maxQueued: Type.Integer({ minimum: 0, maximum: 10_000, default: 32 }),
      },
      { default: {}, additionalProperties: false },
    ),
    /** Sign-ups per client address: each costs a password hash. */
    signUpRateLimit: Type.Object({ perIp: Limit(10, 60 * 60_000) }, { default: {}, additionalProperties: false }),
    /**
     * Login attempts, limited so that an attacker is slowed and the owner is never locked out:
     * `perAccountAndIp` for one account from one address (reset by a successful login there);
     * `perAccount` for one account from addresses it has not logged in from within `familiarForDays`
     * (distributed guessing; the owner's familiar addresses are exempt); `perIp` for one address overall.
     */
    loginRateLimit: Type.Object(
      {
        perAccountAndIp: Limit(10, 15 * 60_000),
        perAccount: Limit(100, 15 * 60_000),
        perIp: Limit(100, 15 * 60_000),
        familiarForDays: Type.Integer({ minimum: 1, maximum: 365, default: 30 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);
export type AuthConfig = Static<typeof AuthConfig>;
