import { bffService } from '@livehouse/bff';
import type { AnyServiceDefinition } from '@livehouse/kit';
import { userService } from '@livehouse/user';

/** Every service of the platform, and the loopback ports `livehouse up` gives each (API, admin). */
export const services: Record<string, { definition: AnyServiceDefinition; port: number; adminPort: number }> = {
  user: { definition: userService, port: 7002, adminPort: 9002 },
  bff: { definition: bffService, port: 8080, adminPort: 9080 },
};
