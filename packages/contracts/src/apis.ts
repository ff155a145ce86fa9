import { routes as point } from './point.ts';

/** The internal APIs by service name: a service that names one in `dependsOn` gets a typed client of it. */
export const apis = { point };
export type Apis = typeof apis;
