/**
 * Who is calling. Identity comes from a verified bearer JWT (signature, issuer, audience,
 * expiry against the configured JWKS) or, only when explicitly enabled, from the platform's
 * `x-ms-client-principal` header. Never from the body or the query string.
 */
import { recordAuthFailure, type AuthFailureReason } from './observability/instruments.js';
import type { HttpRequest } from '@azure/functions';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwksCache,
  jwtVerify,
  type JWKSCacheInput,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { z } from 'zod';
import type { SectionConfig } from './config.js';
import { HttpError } from './errors.js';
import { boundedHeader } from './http/request.js';
import { verifiedTokenCache, type VerifiedTokenCache } from './verifiedTokens.js';

export const roles = ['Admin', 'Technician'] as const;
export type Role = (typeof roles)[number];

/** An authenticated caller. */
export interface Principal {
  /** The token subject; matches `technicians.externalId`. */
  subject: string;
  roles: ReadonlySet<Role>;
}

const bearerChallenge = (error?: string) => ({
  'www-authenticate': error ? `Bearer error="${error}"` : 'Bearer',
});

/** A 401, counted by `reason` (sis.auth.failures; never anything from the token itself). */
function unauthorized(detail: string, reason: AuthFailureReason, error?: string): HttpError {
  recordAuthFailure(reason);
  return new HttpError('unauthorized', detail, { headers: bearerChallenge(error) });
}

function toRoles(values: unknown): Set<Role> {
  const list = Array.isArray(values) ? values : typeof values === 'string' ? [values] : [];
  return new Set(list.filter((value): value is Role => roles.includes(value as Role)));
}

/**
 * Longest subject accepted: it is recorded as the actor of every change (`change_events.actor`
 * is VARCHAR(255)), so a longer one would fail the write it authorises rather than the sign-in.
 * Entra ID subjects are 43 characters.
 */
export const maxSubjectLength = 255;

/** What a bearer token must be: who issued it, for whom, and the claims it must carry. */
interface TokenRules {
  issuer: string;
  audience: string;
  requiredClaims: string[];
}

/**
 * The claims of `token` once its signature (a key of `keySet`), issuer, audience and expiry
 * are verified; 401 when they are not, 503 when the key set cannot be had. The one JWT check
 * of the app: user tokens and service callers' tokens both go through it.
 */
async function verifiedClaims(
  token: string,
  rules: TokenRules,
  keySet: JWTVerifyGetKey,
  nowMs?: number,
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, keySet, {
      issuer: rules.issuer,
      audience: rules.audience,
      algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384'],
      clockTolerance: 30,
      requiredClaims: rules.requiredClaims,
      ...(nowMs !== undefined && { currentDate: new Date(nowMs) }),
    });
    return payload;
  } catch (error) {
    // Failures fetching the key set (timeout, a non-200 answer, a body that is not a key set)
    // are the identity provider's, not the caller's: a 401 would make clients drop good tokens.
    if (
      error instanceof joseErrors.JWKSTimeout ||
      error instanceof joseErrors.JWKSInvalid ||
      (error instanceof joseErrors.JOSEError && error.code === 'ERR_JOSE_GENERIC')
    ) {
      recordAuthFailure('provider_unavailable');
      throw new HttpError(
        'service-unavailable',
        'The identity provider could not be reached; try again shortly.',
        {
          cause: error,
        },
      );
    }
    if (error instanceof joseErrors.JOSEError) {
      const reason =
        error instanceof joseErrors.JWTExpired
          ? 'The token has expired.'
          : error instanceof joseErrors.JWTClaimValidationFailed
            ? `The token's ${error.claim} claim is not accepted.`
            : 'The token is not valid.';
      throw unauthorized(
        reason,
        error instanceof joseErrors.JWTExpired
          ? 'expired'
          : error instanceof joseErrors.JWTClaimValidationFailed
            ? 'claim'
            : 'invalid',
        'invalid_token',
      );
    }
    // A network failure fetching the key set is ours, not the caller's.
    recordAuthFailure('provider_unavailable');
    throw new HttpError(
      'service-unavailable',
      'The identity provider could not be reached; try again shortly.',
      {
        cause: error,
      },
    );
  }
}

async function verifyBearer(
  token: string,
  config: SectionConfig<'auth'>,
  keys: IssuerKeys,
  verified: VerifiedTokenCache<Principal>,
  nowMs: number,
): Promise<Principal> {
  const cached = verified.get(token, nowMs, keys.version());
  if (cached) return cached;
  const payload = await verifiedClaims(
    token,
    { issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE, requiredClaims: ['exp', 'sub'] },
    keys.getKey,
    nowMs,
  );
  if (typeof payload.sub !== 'string' || payload.sub === '')
    throw unauthorized('The token has no subject.', 'no_subject', 'invalid_token');
  if (payload.sub.length > maxSubjectLength)
    throw unauthorized(
      `The token's subject is longer than ${maxSubjectLength} characters.`,
      'subject_too_long',
      'invalid_token',
    );
  const principal: Principal = { subject: payload.sub, roles: toRoles(payload['roles']) };
  // `exp` is a required claim, so verification above proved it a number. The entry never
  // outlives the token, nor the key set's freshness (see lib/verifiedTokens.ts).
  const expiresAtMs = Math.min((payload.exp ?? 0) * 1000, nowMs + keys.maxAgeMs);
  verified.set(token, principal, expiresAtMs, keys.version());
  return principal;
}

const clientPrincipalSchema = z.object({
  claims: z.array(z.object({ typ: z.string(), val: z.string() })),
  role_typ: z.string().optional(),
});

const subjectClaimTypes = new Set([
  'sub',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier',
]);

function principalFromPlatformHeader(header: string): Principal {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    throw unauthorized('The client principal header is not valid.', 'client_principal');
  }
  const result = clientPrincipalSchema.safeParse(parsed);
  if (!result.success)
    throw unauthorized('The client principal header is not valid.', 'client_principal');
  const roleType = result.data.role_typ ?? 'roles';
  const subject = result.data.claims.find((claim) => subjectClaimTypes.has(claim.typ))?.val;
  if (!subject) throw unauthorized('The client principal has no subject.', 'no_subject');
  if (subject.length > maxSubjectLength)
    throw unauthorized(
      `The client principal's subject is longer than ${maxSubjectLength} characters.`,
      'subject_too_long',
    );
  return {
    subject,
    roles: toRoles(
      result.data.claims.filter((c) => c.typ === roleType || c.typ === 'roles').map((c) => c.val),
    ),
  };
}

/** Verifies the caller; throws 401 when there is no valid identity. */
export type Authenticator = (request: HttpRequest) => Promise<Principal>;

/** How an authenticator keeps keys and verified tokens; the defaults are production's. */
export interface AuthenticatorOptions {
  /** The clock tokens are checked against (ms since the epoch); tests drive it. */
  now?: () => number;
  /** Verified tokens kept (least recently used evicted); see lib/verifiedTokens.ts. */
  verifiedTokenEntries?: number;
  /** How long a fetched key set is used before it is fetched again (jose `cacheMaxAge`). */
  keySetMaxAgeMs?: number;
  /** How soon after a fetch a token naming an unknown key may fetch again (jose `cooldownDuration`). */
  keySetCooldownMs?: number;
}

/**
 * The authenticator of one `auth` section. Its remote key set is made at the first bearer
 * token and kept: jose caches the keys and refetches them on rotation. Verified tokens are
 * kept until they expire or the key set is refetched (lib/verifiedTokens.ts), so a caller's
 * later requests skip the signature check.
 */
export function createAuthenticator(
  config: SectionConfig<'auth'>,
  options: AuthenticatorOptions = {},
): Authenticator {
  let keys: IssuerKeys | undefined;
  const verified = verifiedTokenCache<Principal>(options.verifiedTokenEntries);
  const now = options.now ?? Date.now;
  return (request) =>
    authenticate(request, config, () => {
      keys ??= remoteKeySet(config.AUTH_JWKS_URI, options);
      return verifyBearer(bearerToken(request), config, keys, verified, now());
    });
}

/** An issuer's published keys, and which fetch of them is current. */
interface IssuerKeys {
  getKey: JWTVerifyGetKey;
  /**
   * The key set of the last fetch (a new object each fetch) while it is fresh, else
   * undefined: a verified token is reused only under the fetch it was verified with
   * (lib/verifiedTokens.ts).
   */
  version(): object | undefined;
  /** How long a fetch is used (jose `cacheMaxAge`). */
  maxAgeMs: number;
}

/**
 * An issuer's published keys, cached by jose and refetched when older than `cacheMaxAge` or
 * when a token names a key it lacks (at most once per `cooldownDuration`). jose records each
 * fetch's key set (a new object each time) in the `jwksCache` object it is given (panva/jose
 * src/jwks/remote.ts `reload`), which is how cached verifications learn of a refetch.
 */
function remoteKeySet(
  jwksUri: string,
  options: Pick<AuthenticatorOptions, 'keySetMaxAgeMs' | 'keySetCooldownMs'> = {},
): IssuerKeys {
  const maxAgeMs = options.keySetMaxAgeMs ?? 600_000;
  const fetched: JWKSCacheInput = {};
  const keySet = createRemoteJWKSet(new URL(jwksUri), {
    timeoutDuration: 5000,
    cooldownDuration: options.keySetCooldownMs ?? 30_000,
    cacheMaxAge: maxAgeMs,
    [jwksCache]: fetched,
  });
  return {
    getKey: keySet,
    version: () => (keySet.fresh && 'jwks' in fetched ? fetched.jwks : undefined),
    maxAgeMs,
  };
}

/** The token of the request's `Authorization: Bearer <token>` header; 401 without one. */
function bearerToken(request: HttpRequest): string {
  const authorization = boundedHeader(request, 'authorization', 16_384);
  if (!authorization)
    throw unauthorized('Send a bearer token in the Authorization header.', 'missing');
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)$/i.exec(authorization.trim());
  if (!match?.[1])
    throw unauthorized(
      'The Authorization header must be "Bearer <token>".',
      'malformed',
      'invalid_request',
    );
  return match[1];
}

/** The one service principal a webhook takes calls from, and how its tokens are checked. */
export interface ServiceCallerRules {
  issuer: string;
  audience: string;
  jwksUri: string;
  /** Object id (`oid` claim) of the caller's identity, e.g. a managed identity's principal id. */
  principalId: string;
}

/** Verifies that a request comes from the one service principal; throws 401 otherwise. */
export type ServiceCallerVerifier = (request: HttpRequest) => Promise<void>;

/**
 * The verifier of a service calling one of our webhooks with an Entra token of its managed
 * identity: the token's signature, issuer, audience and expiry as for users, then its `oid`
 * (the object id of the identity it was issued to; Microsoft identity platform access token
 * claims, MicrosoftDocs/azure-docs articles/active-directory/develop/access-tokens.md) must
 * be the configured principal, since any identity in the tenant can get a token for the
 * same audience. The key set is made at the first call and kept, as for users.
 */
export function createServiceCallerVerifier(rules: ServiceCallerRules): ServiceCallerVerifier {
  let keySet: JWTVerifyGetKey | undefined;
  return async (request) => {
    const claims = await verifiedClaims(
      bearerToken(request),
      { issuer: rules.issuer, audience: rules.audience, requiredClaims: ['exp', 'oid'] },
      (keySet ??= remoteKeySet(rules.jwksUri).getKey),
    );
    if (claims['oid'] !== rules.principalId)
      throw unauthorized(
        'The token was not issued to the expected caller.',
        'claim',
        'invalid_token',
      );
  };
}

async function authenticate(
  request: HttpRequest,
  config: SectionConfig<'auth'>,
  bearer: () => Promise<Principal>,
): Promise<Principal> {
  if (config.AUTH_TRUST_PLATFORM_PRINCIPAL) {
    const header = boundedHeader(request, 'x-ms-client-principal', 16_384);
    if (header) return principalFromPlatformHeader(header);
  }
  return bearer();
}

/** Throws 403 unless the principal holds one of `allowed`. */
export function requireRole(principal: Principal, ...allowed: Role[]): void {
  if (!allowed.some((role) => principal.roles.has(role))) {
    throw new HttpError('forbidden', `This needs the ${allowed.join(' or ')} role.`);
  }
}
