import { defineService } from '@livehouse/kit';
import type { UserDatabase } from './db.ts';
import * as init from './migrations/0001_profiles_and_follows.ts';
import * as outbox from './migrations/0002_outbox.ts';
import { userRoutes } from './user.routes.ts';

/** Profiles and the follow graph. */
export const userService = defineService<Record<never, never>, UserDatabase>({
  name: 'user',
  config: {},
  migrations: { '0001_profiles_and_follows': init, '0002_outbox': outbox },
  dependsOn: [],
  produces: ['user.followed', 'user.unfollowed'],
  routes: async (app, ctx) => userRoutes(app, ctx.db),
});
