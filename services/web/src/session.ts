import type { auth } from '@livehouse/contracts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BffClient } from './bff.ts';

/**
 * The session lives in two HttpOnly, Secure, SameSite=Lax cookies that page JavaScript cannot read.
 * `__Host-` pins them to this origin (no Domain, Path=/, Secure). The server sends the access token
 * to the BFF as a Bearer token; the refresh token is used only here, when the access token expires.
 */
export const ACCESS_COOKIE = '__Host-lh_at';
export const REFRESH_COOKIE = '__Host-lh_rt';
/** Refresh this long before expiry, so a token never expires between our check and the BFF's. */
const REFRESH_MARGIN_MS = 30_000;

export interface SessionUser {
  id: string;
  handle: string;
  roles: string[];
}

export interface Session {
  token: string;
  user: SessionUser;
}

/** The claims of our own access token, read without verifying: the BFF verifies it on every call. */
export function accessClaims(token: string): (SessionUser & { exp: number }) | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const c = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof c.sub !== 'string' || typeof c.handle !== 'string' || typeof c.exp !== 'number') return null;
    const roles = Array.isArray(c.roles) ? c.roles.filter((r): r is string => typeof r === 'string') : [];
    return { id: c.sub, handle: c.handle, roles, exp: c.exp };
  } catch {
    return null;
  }
}

export function cookieOptions(secure: boolean, expires?: Date) {
  return { path: '/', httpOnly: true, secure, sameSite: 'lax' as const, ...(expires && { expires }) };
}

export class Sessions {
  readonly #bff: BffClient;
  readonly #secure: boolean;
  /**
   * Refresh tokens work once (a reuse revokes the family), and a page's parallel requests may all
   * find the access token expired: one refresh per token, shared by the requests that need it.
   */
  readonly #refreshing = new Map<string, Promise<auth.Session | null>>();

  constructor(bff: BffClient, secure: boolean) {
    this.#bff = bff;
    this.#secure = secure;
  }

  readonly #perRequest = new WeakMap<FastifyRequest, Promise<Session | null>>();

  /** The caller's session, refreshed when its access token is (about to be) expired; null when logged out. */
  read(request: FastifyRequest, reply: FastifyReply): Promise<Session | null> {
    let pending = this.#perRequest.get(request);
    if (!pending) {
      pending = this.#read(request, reply);
      this.#perRequest.set(request, pending);
    }
    return pending;
  }

  async #read(request: FastifyRequest, reply: FastifyReply): Promise<Session | null> {
    const access = request.cookies[ACCESS_COOKIE];
    const c = access ? accessClaims(access) : null;
    if (access && c && c.exp * 1000 - REFRESH_MARGIN_MS > Date.now()) return { token: access, user: c };
    const refresh = request.cookies[REFRESH_COOKIE];
    if (!refresh) {
      if (access) this.clear(reply);
      return null;
    }
    const session = await this.#refresh(refresh);
    if (!session) {
      this.clear(reply);
      return null;
    }
    this.set(reply, session);
    const fresh = accessClaims(session.tokens.accessToken);
    return fresh ? { token: session.tokens.accessToken, user: fresh } : null;
  }

  #refresh(refreshToken: string) {
    const pending = this.#refreshing.get(refreshToken);
    if (pending) return pending;
    const p = this.#bff
      .call<auth.Session>('POST', '/web/v1/auth/refresh', { body: { refreshToken } })
      .then((r) => (r.status === 200 ? r.body : null))
      .catch(() => null);
    this.#refreshing.set(refreshToken, p);
    // Kept briefly so that requests already in flight with the old cookie get the same answer.
    p.finally(() => setTimeout(() => this.#refreshing.delete(refreshToken), 10_000).unref());
    return p;
  }

  set(reply: FastifyReply, session: auth.Session) {
    const t = session.tokens;
    reply.setCookie(ACCESS_COOKIE, t.accessToken, cookieOptions(this.#secure, new Date(t.accessTokenExpiresAt)));
    reply.setCookie(REFRESH_COOKIE, t.refreshToken, cookieOptions(this.#secure, new Date(t.refreshTokenExpiresAt)));
  }

  clear(reply: FastifyReply) {
    reply.clearCookie(ACCESS_COOKIE, cookieOptions(this.#secure));
    reply.clearCookie(REFRESH_COOKIE, cookieOptions(this.#secure));
  }
}
