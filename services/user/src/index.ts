import { defineService } from '@livehouse/kit';
import type { UserDatabase } from './db.ts';
import * as init from './migrations/0001_profiles_and_follows.ts';
import { userRoutes } from './user.routes.ts';

/** Profiles and the follow graph. */
export const userService = defineService<Record<never, never>, UserDatabase>({
  name: 'user',
  config: {},
  migrations: { '0001_profiles_and_follows': init },
  dependsOn: [],
  routes: async (app, ctx) => userRoutes(app, ctx.db),
});
