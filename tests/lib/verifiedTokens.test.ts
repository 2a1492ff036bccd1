/**
 * Verified bearer tokens are kept (lib/verifiedTokens.ts) without ever accepting what full
 * verification would refuse: not past `exp`, not after the issuer's key set is refetched
 * without the signing key, and never for a token that differs in any byte from one verified.
 * Real ES256 tokens from the dev issuer, a real JWKS served over loopback HTTP, the app's
 * authenticator with an injected clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDevIssuer, type DevIssuer } from '../../dev/issuer.js';
import { createAuthenticator, type AuthenticatorOptions } from '../../lib/auth.js';
import { configSections } from '../../lib/config.js';
import { HttpError } from '../../lib/errors.js';
import { HttpRequest } from '../../lib/host/azureFunctions.js';
import { verifiedTokenCache } from '../../lib/verifiedTokens.js';

let current: DevIssuer;
let next: DevIssuer;
/** What the JWKS endpoint serves now. */
let served: DevIssuer;
let server: Server;
let jwksUri = '';
const dirs: string[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sis-token-cache-'));
  dirs.push(dir);
  current = await loadDevIssuer(join(dir, 'current'));
  // The next key must have another key id (the dev issuer's is time-based).
  for (let attempt = 0; ; attempt++) {
    next = await loadDevIssuer(join(dir, `next-${attempt}`));
    if (next.jwks.keys[0]?.kid !== current.jwks.keys[0]?.kid) break;
  }
  served = current;
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served.jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function authenticator(options: AuthenticatorOptions) {
  served = current;
  const config = configSections({
    AUTH_ISSUER: current.issuer,
    AUTH_AUDIENCE: current.audience,
    AUTH_JWKS_URI: jwksUri,
  }).section('auth');
  const authenticate = createAuthenticator(config, options);
  return (token: string) =>
    authenticate(
      new HttpRequest({
        method: 'GET',
        url: 'http://127.0.0.1/api/equipment/1',
        headers: { authorization: `Bearer ${token}` },
      }),
    );
}

/** The 401 (or other problem) a rejected authentication throws. */
async function refusal(attempt: Promise<unknown>): Promise<HttpError> {
  const error = await attempt.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof HttpError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error;
}

/** `token` with its claims replaced (signature kept): what a forger would send. */
function withClaims(token: string, change: (claims: Record<string, unknown>) => void): string {
  const [header = '', payload = '', signature = ''] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  change(claims);
  return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
}

describe('verified token cache', () => {
  it('accepts a cached token until its exp and refuses it after', async () => {
    let nowMs = Date.now();
    const authenticate = authenticator({ now: () => nowMs });
    const token = await current.sign({ sub: 'tech-1', roles: ['Technician'] }, '120s');
    const exp = (
      JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
        exp: number;
      }
    ).exp;
    expect((await authenticate(token)).subject).toBe('tech-1');
    nowMs = exp * 1000 - 1;
    expect((await authenticate(token)).subject).toBe('tech-1');
    // Past exp and past the verifier's 30 s clock tolerance: full verification refuses it,
    // so a cache that ignored exp would be the only way to accept it.
    nowMs = exp * 1000 + 31_000;
    const refused = await refusal(authenticate(token));
    expect(refused.status).toBe(401);
    expect(refused.message).toMatch(/expired/);
  });

  it('refuses a cached token once the key set is refetched without its key', async () => {
    const authenticate = authenticator({ keySetCooldownMs: 0 });
    const old = await current.sign({ sub: 'tech-1', roles: ['Technician'] });
    expect((await authenticate(old)).subject).toBe('tech-1');
    expect((await authenticate(old)).subject).toBe('tech-1');
    // The issuer rotates: only the next key is published. A token of the next key names a
    // key the verifier lacks, which makes it fetch the key set again.
    served = next;
    const rotated = await next.sign({ sub: 'tech-2', roles: ['Technician'] });
    expect((await authenticate(rotated)).subject).toBe('tech-2');
    expect((await refusal(authenticate(old))).status).toBe(401);
  });

  it('does not reuse a verification once the key set is stale', async () => {
    // A key set never fresh is fetched for every verification, so a removed key shows at once.
    const authenticate = authenticator({ keySetMaxAgeMs: 0 });
    const old = await current.sign({ sub: 'tech-1', roles: ['Technician'] });
    expect((await authenticate(old)).subject).toBe('tech-1');
    served = next;
    expect((await refusal(authenticate(old))).status).toBe(401);
  });

  it('never answers a tampered token from the cache', async () => {
    const authenticate = authenticator({});
    const token = await current.sign({ sub: 'tech-1', roles: ['Technician'] });
    expect((await authenticate(token)).roles.has('Admin')).toBe(false);
    const promoted = withClaims(token, (claims) => {
      claims['roles'] = ['Admin'];
    });
    expect((await refusal(authenticate(promoted))).status).toBe(401);
    const otherSubject = withClaims(token, (claims) => {
      claims['sub'] = 'someone-else';
    });
    expect((await refusal(authenticate(otherSubject))).status).toBe(401);
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    const badSignature = `${token.slice(0, -2)}${last}${token.slice(-1)}`;
    expect((await refusal(authenticate(badSignature))).status).toBe(401);
    // The genuine token is still accepted, with what it really says.
    const principal = await authenticate(token);
    expect(principal.subject).toBe('tech-1');
    expect([...principal.roles]).toEqual(['Technician']);
  });

  it('keeps at most its bound, evicting the least recently used', () => {
    const cache = verifiedTokenCache<string>(2);
    const keys = { keys: [] };
    cache.set('token-a', 'a', 1000, keys);
    cache.set('token-b', 'b', 1000, keys);
    expect(cache.get('token-a', 0, keys)).toBe('a');
    cache.set('token-c', 'c', 1000, keys);
    expect(cache.size).toBe(2);
    expect(cache.get('token-b', 0, keys)).toBeUndefined();
    expect(cache.get('token-a', 0, keys)).toBe('a');
    expect(cache.get('token-c', 0, keys)).toBe('c');
    // Another fetch of the key set (even an equal one), or none fresh, is a miss.
    expect(cache.get('token-a', 0, { keys: [] })).toBeUndefined();
    expect(cache.get('token-c', 0, undefined)).toBeUndefined();
    expect(() => verifiedTokenCache(0)).toThrow(/positive integer/);
  });
});
