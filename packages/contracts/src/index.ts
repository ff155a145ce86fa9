export * as auth from './auth.ts';
export * from './common.ts';
export * from './errors.ts';
export * from './events.ts';
export * as user from './user.ts';
