import type { Role } from '@livehouse/contracts';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError } from './errors.ts';

const AUDIENCE = 'livehouse-internal';
const ALG = 'HS256';

/** Who is calling a backend: always a service, and the end user when the call is made on one's behalf. */
export interface Caller {
  service: string;
  user?: { id: string; roles: Role[] };
}

/**
 * Short-lived HS256 tokens signed with the deployment's internal key (LIVEHOUSE_INTERNAL_KEY).
 * Backends accept nothing else on their API port.
 */
export class InternalAuth {
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;
  readonly #cache = new Map<string, { token: string; renewAt: number }>();

  constructor(key: string, options: { ttlSeconds?: number } = {}) {
    this.#key = new TextEncoder().encode(key);
    this.#ttlSeconds = options.ttlSeconds ?? 60;
  }

  /** Signs (or reuses, until half its life is gone) a token for this caller. */
  async sign(caller: Caller): Promise<string> {
    const cacheKey = `${caller.service}|${caller.user?.id ?? ''}|${caller.user?.roles.join(',') ?? ''}`;
    const now = Date.now();
    const cached = this.#cache.get(cacheKey);
    if (cached && cached.renewAt > now) return cached.token;
    const jwt = new SignJWT({ ...(caller.user && { roles: caller.user.roles }) })
      .setProtectedHeader({ alg: ALG })
      .setIssuer(`livehouse:${caller.service}`)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(now / 1000) + this.#ttlSeconds);
    if (caller.user) jwt.setSubject(caller.user.id);
    const token = await jwt.sign(this.#key);
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(cacheKey, { token, renewAt: now + (this.#ttlSeconds * 1000) / 2 });
    return token;
  }

  async verify(authorization: string | undefined): Promise<Caller> {
    if (!authorization?.startsWith('Bearer ')) {
      throw new AppError('internal_token_missing', 'this service only accepts calls with an internal token');
    }
    try {
      const { payload } = await jwtVerify(authorization.slice(7), this.#key, {
        audience: AUDIENCE,
        algorithms: [ALG],
      });
      const service = payload.iss?.startsWith('livehouse:') ? payload.iss.slice(10) : undefined;
      if (!service) throw new AppError('internal_token_invalid', 'the internal token names no calling service');
      const roles = Array.isArray(payload.roles) ? (payload.roles as Role[]) : [];
      return { service, ...(payload.sub && { user: { id: payload.sub, roles } }) };
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof joseErrors.JWTExpired) {
        throw new AppError('internal_token_expired', 'the internal token has expired');
      }
      throw new AppError('internal_token_invalid', 'the internal token is invalid');
    }
  }
}
