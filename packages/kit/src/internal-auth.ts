import { webcrypto } from 'node:crypto';
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
  /**
   * Imported once: given raw bytes, jose imports a WebCrypto key on every sign and verify (a third of
   * their CPU: verifying a token took ~70 µs with raw bytes, ~50 µs with the imported key).
   */
  readonly #key: Promise<webcrypto.CryptoKey>;
  readonly #ttlSeconds: number;
  readonly #cache = new Map<string, { token: string; renewAt: number }>();
  /**
   * Tokens already verified, with their expiry: an HMAC through WebCrypto per request was 12% of a spend's CPU.
   * Keyed by the whole token, so only the exact string whose signature was checked is ever served from here.
   */
  readonly #verified = new Map<string, { caller: Caller; expiresAt: number }>();
  readonly #maxVerified: number;

  constructor(key: string, options: { ttlSeconds?: number; maxVerified?: number } = {}) {
    this.#key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(key),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    // Awaited by every sign and verify, which report a failure; not an unhandled rejection meanwhile.
    this.#key.catch(() => {});
    this.#ttlSeconds = options.ttlSeconds ?? 60;
    this.#maxVerified = options.maxVerified ?? 10_000;
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
    const token = await jwt.sign(await this.#key);
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(cacheKey, { token, renewAt: now + (this.#ttlSeconds * 1000) / 2 });
    return token;
  }

  /**
   * The caller of a token verified before and not expired, without a promise (the request hook's
   * fast path); undefined when it must go through `verify` (unknown, expired or malformed).
   */
  verifiedCaller(authorization: string | undefined): Caller | undefined {
    if (!authorization?.startsWith('Bearer ')) return undefined;
    const known = this.#verified.get(authorization.slice(7));
    return known && known.expiresAt > Date.now() ? known.caller : undefined;
  }

  async verify(authorization: string | undefined): Promise<Caller> {
    const known = this.verifiedCaller(authorization);
    if (known) return known;
    if (!authorization?.startsWith('Bearer ')) {
      throw new AppError('internal_token_missing', 'this service only accepts calls with an internal token');
    }
    const token = authorization.slice(7);
    // Verified before, so only its expiry can have failed.
    if (this.#verified.delete(token)) throw new AppError('internal_token_expired', 'the internal token has expired');
    try {
      const { payload } = await jwtVerify(token, await this.#key, { audience: AUDIENCE, algorithms: [ALG] });
      const service = payload.iss?.startsWith('livehouse:') ? payload.iss.slice(10) : undefined;
      if (!service) throw new AppError('internal_token_invalid', 'the internal token names no calling service');
      const roles = Array.isArray(payload.roles) ? (payload.roles as Role[]) : [];
      const caller: Caller = { service, ...(payload.sub && { user: { id: payload.sub, roles } }) };
      if (payload.exp !== undefined) this.#remember(token, caller, payload.exp * 1000);
      return caller;
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof joseErrors.JWTExpired) {
        throw new AppError('internal_token_expired', 'the internal token has expired');
      }
      throw new AppError('internal_token_invalid', 'the internal token is invalid');
    }
  }

  #remember(token: string, caller: Caller, expiresAt: number) {
    // Oldest first out: a Map iterates in insertion order, and tokens are renewed at half their life anyway.
    if (this.#verified.size >= this.#maxVerified) {
      const oldest = this.#verified.keys().next();
      if (!oldest.done) this.#verified.delete(oldest.value);
    }
    this.#verified.set(token, { caller, expiresAt });
  }
}
