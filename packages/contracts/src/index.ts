export * as auth from './auth.ts';
export * from './common.ts';
export * as contents from './contents.ts';
export * from './errors.ts';
export * from './events.ts';
export * as point from './point.ts';
export * as stamp from './stamp.ts';
export * as thumbnail from './thumbnail.ts';
export * as user from './user.ts';
