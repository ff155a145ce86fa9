import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { userService } from '@livehouse/user';
import type { Kysely } from 'kysely';
import type { AuthDatabase } from '../src/db.ts';
import { authService } from '../src/index.ts';

export { dbKinds };

/** user and auth on one test database; argon2 cheap and login limits small, so tests stay fast. */
export function startAuthPlatform(kind: (typeof dbKinds)[number]) {
  return startTestPlatform([userService, authService], kind, {
    config: (name) =>
      name === 'auth'
        ? {
            auth: {
              passwordHashing: { memoryCostKiB: 1024, timeCost: 1 },
              loginRateLimit: {
                perAccountAndIp: { max: 3, windowMs: 60_000 },
                perAccount: { max: 6, windowMs: 60_000 },
                perIp: { max: 5, windowMs: 60_000 },
              },
            },
          }
        : {},
  });
}

export function authDb(p: TestPlatform) {
  return p.services.get('auth')!.built.database!.db as Kysely<AuthDatabase>;
}

export async function countAccounts(p: TestPlatform) {
  const row = await authDb(p)
    .selectFrom('accounts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

let seq = 0;
/** A fresh, valid sign-up body. */
export function newAccount(prefix = 'u') {
  const n = `${prefix}${process.pid % 1000}_${seq++}`;
  return { handle: n, email: `${n}@example.com`, password: 'correct horse battery' };
}
