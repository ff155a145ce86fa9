import { defineService } from '@livehouse/kit';
import * as accounts from './account.repository.ts';
import { AuthConfig } from './auth.config.ts';
import { authRoutes } from './auth.routes.ts';
import { createAuthService } from './auth.service.ts';
import type { AuthDatabase } from './db.ts';
import * as init from './migrations/0001_accounts_and_sessions.ts';
import * as eventsAndAddresses from './migrations/0002_events_and_login_addresses.ts';
import { PasswordHasher } from './passwords.ts';
import { loadSigningKey } from './tokens.ts';

/** Accounts, passwords, access tokens (ES256 JWT) and rotating refresh tokens; publishes its JWKS. */
export const authService = defineService<{ auth: typeof AuthConfig }, AuthDatabase>({
  name: 'auth',
  config: { auth: AuthConfig },
  migrations: { '0001_accounts_and_sessions': init, '0002_events_and_login_addresses': eventsAndAddresses },
  dependsOn: ['user'],
  routes: async (app, ctx) => {
    const key = await loadSigningKey(ctx.config.secrets.authSigningKey);
    const service = createAuthService({
      db: ctx.db,
      user: ctx.clients.user,
      hasher: new PasswordHasher(ctx.config.auth.passwordHashing),
      key,
      limiter: ctx.limiter('livehouse:auth:'),
      config: ctx.config.auth,
      log: ctx.log,
    });
    await authRoutes(app, service, key.jwks);
  },
  // A channel's owner is a streamer: the role follows from the channel (the BFF also grants it at once,
  // so the next token refresh carries it; this makes it hold even when that call failed).
  consumes: {
    'channel.created': async (trx, event) => {
      await accounts.grantRole(trx, event.data.ownerId, 'streamer');
    },
  },
});
