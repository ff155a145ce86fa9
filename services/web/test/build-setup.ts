import { ensureBuilt } from '../src/build.ts';

/** Builds the web bundles once before the test files start (each web server would otherwise check alone). */
export default async function setup() {
  await ensureBuilt();
}
