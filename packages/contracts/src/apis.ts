import { routes as auth } from './auth.ts';
import { routes as contents } from './contents.ts';
import { routes as edge } from './media.ts';
import { routes as payment } from './payment.ts';
import { routes as point } from './point.ts';
import { routes as stamp } from './stamp.ts';
import { routes as timeline } from './timeline.ts';
import { routes as user } from './user.ts';

/** The internal APIs by service name: a service that names one in `dependsOn` gets a typed client of it. */
export const apis = { auth, contents, edge, payment, point, stamp, timeline, user };
export type Apis = typeof apis;
