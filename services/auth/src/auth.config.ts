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
      },
      { default: {}, additionalProperties: false },
    ),
    /** Login attempts; an account's counter resets on a successful login. */
    loginRateLimit: Type.Object(
      { perAccount: Limit(10, 15 * 60_000), perIp: Limit(100, 15 * 60_000) },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);
export type AuthConfig = Static<typeof AuthConfig>;
