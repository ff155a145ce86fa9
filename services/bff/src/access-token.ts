import { auth, type Role } from '@livehouse/contracts';
import { AppError } from '@livehouse/kit';
import { createLocalJWKSet, type JSONWebKeySet, errors as joseErrors, jwtVerify } from 'jose';

export interface EndUser {
  id: string;
  handle: string;
  roles: Role[];
}

/**
 * Verifies end users' access tokens (ES256) against auth's JWKS. The key set is cached and
 * refetched when a token names an unknown key id — at most once a second, so forged key ids
 * cannot turn the BFF into a load generator against auth.
 */
export class AccessTokenVerifier {
  readonly #fetchJwks: () => Promise<JSONWebKeySet>;
  #keys: ReturnType<typeof createLocalJWKSet> | undefined;
  #lastFetch = 0;
  #inflight: Promise<void> | undefined;

  constructor(fetchJwks: () => Promise<JSONWebKeySet>) {
    this.#fetchJwks = fetchJwks;
  }

  async #refresh(force: boolean) {
    if (this.#keys && (!force || Date.now() - this.#lastFetch < 1000)) return;
    this.#inflight ??= this.#fetchJwks()
      .then((jwks) => {
        this.#keys = createLocalJWKSet(jwks);
        this.#lastFetch = Date.now();
      })
      .finally(() => {
        this.#inflight = undefined;
      });
    await this.#inflight;
  }

  async verify(authorization: string): Promise<EndUser> {
    if (!authorization.startsWith('Bearer ')) {
      throw new AppError('token_invalid', 'send the access token as "Authorization: Bearer <token>"');
    }
    const token = authorization.slice(7);
    await this.#refresh(false);
    try {
      return await this.#verifyWithCurrentKeys(token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw mapError(err);
      await this.#refresh(true);
      return this.#verifyWithCurrentKeys(token).catch((e: unknown) => {
        throw mapError(e);
      });
    }
  }

  async #verifyWithCurrentKeys(token: string): Promise<EndUser> {
    const { payload } = await jwtVerify<Partial<auth.AccessTokenClaims>>(token, this.#keys!, {
      algorithms: ['ES256'],
      issuer: auth.ACCESS_TOKEN_ISSUER,
      audience: auth.ACCESS_TOKEN_AUDIENCE,
    });
    if (!payload.sub || typeof payload.handle !== 'string' || !Array.isArray(payload.roles)) {
      throw new AppError('token_invalid', 'the access token is missing claims');
    }
    return { id: payload.sub, handle: payload.handle, roles: payload.roles };
  }
}

function mapError(err: unknown) {
  if (err instanceof AppError) return err;
  if (err instanceof joseErrors.JWTExpired) {
    return new AppError('token_expired', 'the access token has expired: refresh it with your refresh token');
  }
  return new AppError('token_invalid', 'the access token is invalid');
}
