/**
 * Access-key JWTs, verified the way the Web PubSub service verifies them. Both kinds of token
 * are HS256 JWTs signed with the hub's access key (the UTF-8 bytes of the key string, which is
 * what `jsonwebtoken` in `@azure/web-pubsub` signs with):
 * - REST calls carry `Authorization: Bearer <jwt>` whose `aud` is the request URL (the SDK signs
 *   the full URL including `?api-version=...`; the service compares without the query);
 * - client connections carry `?access_token=<jwt>` (or the same bearer header) whose `aud` is
 *   the client URL `http(s)://host/client/hubs/{hub}`, `sub` the user id, `role` the
 *   permissions and `webpubsub.group` the groups joined on connect.
 */
import { errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';

/** Why a token was refused; the message is safe to return to the caller. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
}

/** What a verified client access token grants. */
export interface ClientClaims {
  userId: string | undefined;
  roles: string[];
  groups: string[];
}

/** The key as the SDK uses it: the string's UTF-8 bytes, never base64-decoded. */
export function hmacKey(accessKey: string): Uint8Array {
  return new TextEncoder().encode(accessKey);
}

/**
 * True when `audience` names the same resource as `expected`: same scheme (ws/wss count as
 * http/https, since clients may be handed either), same host and same path; the query and a
 * trailing slash are ignored because the SDK signs the query while the service does not.
 */
export function audienceMatches(audience: string, expected: URL): boolean {
  let url: URL;
  try {
    url = new URL(audience);
  } catch {
    return false;
  }
  const scheme = url.protocol.replace(/^ws/, 'http');
  const trim = (path: string) => path.replace(/\/+$/, '');
  return (
    scheme === expected.protocol.replace(/^ws/, 'http') &&
    url.host.toLowerCase() === expected.host.toLowerCase() &&
    trim(url.pathname) === trim(expected.pathname)
  );
}

/**
 * Verifies signature (HS256 only: an `alg: none` or RS256 token is refused), `exp` (required),
 * `nbf` when present, and the audience against `expected`.
 */
export async function verifyAccessToken(
  token: string,
  key: Uint8Array,
  expected: URL,
): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new TokenError('The access token has expired.');
    if (error instanceof errors.JOSEError) {
      throw new TokenError(`The access token is invalid: ${error.code}.`);
    }
    throw error;
  }
  const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
  if (!audiences.some((audience) => audienceMatches(audience, expected))) {
    throw new TokenError(`The access token's audience does not match ${expected.href}.`);
  }
  return payload;
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

/** Reads the claims the service honours from a verified client token. */
export function clientClaims(payload: JWTPayload): ClientClaims {
  return {
    userId: typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined,
    roles: stringList(payload.role),
    groups: stringList(payload['webpubsub.group']),
  };
}

/**
 * Signs a client access token the way `getClientAccessToken` does with a key credential; used
 * by the `:generateToken` REST operation (which identity-based service clients call).
 */
export async function signClientToken(
  key: Uint8Array,
  audience: string,
  options: { userId?: string; roles?: string[]; groups?: string[]; minutesToExpire: number },
): Promise<string> {
  const jwt = new SignJWT({
    ...(options.roles && options.roles.length > 0 ? { role: options.roles } : {}),
    ...(options.groups && options.groups.length > 0 ? { 'webpubsub.group': options.groups } : {}),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setAudience(audience)
    .setExpirationTime(`${options.minutesToExpire}m`);
  if (options.userId) jwt.setSubject(options.userId);
  return jwt.sign(key);
}
