import { type Static, Type } from 'typebox';
import { Handle, Id, Role, Text } from './common.ts';
import { route } from './routes.ts';

export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Password = Text({ minLength: 10, maxLength: 128, description: '10–128 characters' });

export const SignUpBody = Type.Object(
  { handle: Handle, email: Email, password: Password },
  { additionalProperties: false },
);
export type SignUpBody = Static<typeof SignUpBody>;

export const LogInBody = Type.Object(
  {
    login: Text({ minLength: 1, maxLength: 254, description: 'handle or email' }),
    password: Text({ minLength: 1, maxLength: 128 }),
  },
  { additionalProperties: false },
);
export type LogInBody = Static<typeof LogInBody>;

export const RefreshBody = Type.Object(
  { refreshToken: Text({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
export type RefreshBody = Static<typeof RefreshBody>;

export const Account = Type.Object({
  id: Id,
  handle: Type.String(),
  email: Type.String(),
  roles: Type.Array(Role),
  createdAt: Type.String({ format: 'date-time' }),
});
export type Account = Static<typeof Account>;

export const Tokens = Type.Object({
  tokenType: Type.Literal('Bearer'),
  accessToken: Type.String(),
  accessTokenExpiresAt: Type.String({ format: 'date-time' }),
  refreshToken: Type.String(),
  refreshTokenExpiresAt: Type.String({ format: 'date-time' }),
});
export type Tokens = Static<typeof Tokens>;

export const Session = Type.Object({ account: Account, tokens: Tokens });
export type Session = Static<typeof Session>;

export const AccountParams = Type.Object({ id: Id });
export const RoleParams = Type.Object({ id: Id, role: Role });

/** One public signing key of auth, as a JSON Web Key (RFC 7517). */
export const Jwk = Type.Object({
  kty: Type.Literal('EC'),
  crv: Type.Literal('P-256'),
  x: Type.String(),
  y: Type.String(),
  kid: Type.String(),
  alg: Type.Literal('ES256'),
  use: Type.Literal('sig'),
});
export const Jwks = Type.Object({ keys: Type.Array(Jwk) });
export type Jwks = Static<typeof Jwks>;

/** `iss` and `aud` of every access token: verifiers must check both. */
export const ACCESS_TOKEN_ISSUER = 'livehouse-auth';
export const ACCESS_TOKEN_AUDIENCE = 'livehouse';

/** Claims of the access token (ES256 JWT) that auth issues and the BFF verifies. */
export interface AccessTokenClaims {
  sub: string;
  handle: string;
  roles: Role[];
}

/** Header in which the BFF forwards the end user's IP address to backends (login rate limits). */
export const CLIENT_IP_HEADER = 'x-livehouse-client-ip';

/** The internal API other services call (the kit generates `clients.auth` from it). */
export const routes = {
  signUp: route({ method: 'POST', path: '/accounts', body: SignUpBody, response: Session }),
  logIn: route({ method: 'POST', path: '/sessions', body: LogInBody, response: Session }),
  refresh: route({ method: 'POST', path: '/sessions/refresh', body: RefreshBody, response: Session }),
  /** 204: no body. */
  logOut: route({ method: 'POST', path: '/sessions/logout', body: RefreshBody, response: Type.Void() }),
  jwks: route({ method: 'GET', path: '/.well-known/jwks.json', response: Jwks }),
  account: route({ method: 'GET', path: '/accounts/:id', params: AccountParams, response: Account }),
  grantRole: route({ method: 'PUT', path: '/accounts/:id/roles/:role', params: RoleParams, response: Account }),
};
