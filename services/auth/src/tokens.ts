import { createHash, createPrivateKey, createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import { auth, type Role } from '@livehouse/contracts';
import { ConfigError } from '@livehouse/kit';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';

const ALG = 'ES256';

/** auth's ES256 key pair, from LIVEHOUSE_AUTH_SIGNING_KEY (PKCS8 PEM of a P-256 private key). */
export interface SigningKey {
  privateKey: KeyObject;
  kid: string;
  jwks: auth.Jwks;
}

export async function loadSigningKey(pem: string | undefined): Promise<SigningKey> {
  const problem = (what: string) =>
    new ConfigError('auth', [`LIVEHOUSE_AUTH_SIGNING_KEY (environment) ${what}: a PKCS8 PEM P-256 private key`]);
  if (!pem) throw problem('is required');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw problem('cannot be read');
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw problem('is not an EC P-256 key');
  }
  const { x, y } = await exportJWK(createPublicKey(privateKey));
  if (!x || !y) throw problem('has no usable public part');
  const [kty, crv] = ['EC', 'P-256'] as const;
  // The RFC 7638 thumbprint names the key: stable across restarts, new with every new key.
  const kid = await calculateJwkThumbprint({ kty, crv, x, y });
  return { privateKey, kid, jwks: { keys: [{ kty, crv, x, y, kid, alg: ALG, use: 'sig' }] } };
}

export async function signAccessToken(
  key: SigningKey,
  claims: auth.AccessTokenClaims,
  expiresAt: Date,
): Promise<string> {
  return new SignJWT({ handle: claims.handle, roles: claims.roles satisfies Role[] })
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(auth.ACCESS_TOKEN_ISSUER)
    .setAudience(auth.ACCESS_TOKEN_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(key.privateKey);
}

/** 256 random bits; only their sha256 is stored. */
export function newRefreshToken() {
  return randomBytes(32).toString('base64url');
}

export function hashRefreshToken(token: string) {
  return createHash('sha256').update(token).digest('hex');
}
