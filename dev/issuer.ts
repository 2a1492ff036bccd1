/**
 * The development token issuer: an ES256 key pair generated once into a git-ignored folder.
 * The local host serves its public JWKS, so the app verifies local tokens exactly the way
 * it verifies Entra ID tokens in Azure (signature, issuer, audience, expiry).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

export interface DevIssuer {
  issuer: string;
  audience: string;
  jwks: { keys: JWK[] };
  /**
   * A token for `sub`; `audience` overrides the issuer's, and `oid` is the object id claim
   * Entra puts in every access token (a managed identity's tokens: its principal id).
   */
  sign(
    claims: {
      sub: string;
      roles?: readonly string[];
      name?: string;
      oid?: string;
      audience?: string;
    },
    expiresIn?: string,
  ): Promise<string>;
}

export const devIssuerDefaults = {
  issuer: 'https://dev-issuer.sis.local',
  audience: 'api://sis-local',
};

/** Loads the key pair from `dir`, creating it on first use. */
export async function loadDevIssuer(
  dir: string,
  options: { issuer?: string; audience?: string } = {},
): Promise<DevIssuer> {
  const issuer = options.issuer ?? devIssuerDefaults.issuer;
  const audience = options.audience ?? devIssuerDefaults.audience;
  const file = join(dir, 'signing-key.jwk.json');
  let privateJwk: JWK;
  if (existsSync(file)) {
    privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  } else {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    privateJwk = {
      ...(await exportJWK(privateKey)),
      kid: `dev-${Date.now().toString(36)}`,
      alg: 'ES256',
      use: 'sig',
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, JSON.stringify(privateJwk), { mode: 0o600 });
  }
  const publicJwk: JWK = { ...privateJwk };
  delete publicJwk.d;
  const key = await importJWK(privateJwk, 'ES256');
  return {
    issuer,
    audience,
    jwks: { keys: [publicJwk] },
    sign: (claims, expiresIn = '8h') =>
      new SignJWT({
        roles: claims.roles ? [...claims.roles] : [],
        ...(claims.name ? { name: claims.name } : {}),
        ...(claims.oid ? { oid: claims.oid } : {}),
      })
        .setProtectedHeader({ alg: 'ES256', kid: privateJwk.kid ?? 'dev', typ: 'JWT' })
        .setSubject(claims.sub)
        .setIssuer(issuer)
        .setAudience(claims.audience ?? audience)
        .setIssuedAt()
        .setExpirationTime(expiresIn)
        .sign(key),
  };
}
