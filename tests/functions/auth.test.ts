/**
 * Authentication and roles through the real handlers: tokens signed by the test issuer and
 * verified against its JWKS over HTTP, plus tokens crafted with jose from the issuer's own
 * key so that each refused token differs from an accepted one in exactly one respect.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  base64url,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  UnsecuredJWT,
  type JWK,
  type JWTPayload,
} from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionDeclarations } from '../../functions/registry.js';
import { httpDeclarations } from '../../lib/host/declarations.js';
import { call, type ApiResult } from '../helpers/api.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { expectProblem } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const { rows, insert } = rowHelpers(db);

let equipmentId = 0;
let recordId = 0;
/** Whatever jose signs with. */
type SigningKey = Parameters<SignJWT['sign']>[0];

let issuerKey: SigningKey;
let issuerKid: string;

/**
 * The private half of the test issuer's key, read from the folder `useTestIssuer` generated it
 * in (found by its public coordinates, so other test files' issuers are never picked).
 */
function issuerPrivateJwk(): JWK {
  const publicJwk = issuer.issuer.jwks.keys[0];
  if (!publicJwk) throw new Error('The test issuer publishes no key');
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith('sis-test-issuer-')) continue;
    try {
      const jwk = JSON.parse(
        readFileSync(join(tmpdir(), entry, 'signing-key.jwk.json'), 'utf8'),
      ) as JWK;
      if (jwk.d && jwk.x === publicJwk.x && jwk.y === publicJwk.y) return jwk;
    } catch {
      // Another file's issuer folder, possibly being removed right now.
    }
  }
  throw new Error("The test issuer's key folder was not found");
}

beforeAll(async () => {
  const jwk = issuerPrivateJwk();
  issuerKid = jwk.kid ?? '';
  issuerKey = await importJWK(jwk, 'ES256');
  equipmentId = await insert(
    "INSERT INTO equipment (serial_number, name, type, status) VALUES ('AUTH-1', 'Loader', 'loader', 'Operational')",
  );
  recordId = await insert(
    `INSERT INTO service_records (equipment_id, service_type, status, service_date, description)
     VALUES (?, 'inspection', 'completed', '2024-01-01 00:00:00', 'seeded')`,
    [equipmentId],
  );
});

interface Craft {
  claims?: JWTPayload;
  /** Claims to leave out of the defaults. */
  omit?: readonly string[];
  header?: Record<string, unknown>;
  key?: SigningKey;
}

/**
 * A token like the issuer's own (ES256, its kid, issuer, audience, subject, roles, 10 minutes),
 * with the given differences.
 */
async function craft(options: Craft = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    iss: issuer.issuer.issuer,
    aud: issuer.issuer.audience,
    sub: 'crafted-admin',
    roles: ['Admin'],
    iat: now,
    exp: now + 600,
    ...options.claims,
  };
  for (const claim of options.omit ?? []) payload[claim] = undefined;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: issuerKid, typ: 'JWT', ...options.header })
    .sign(options.key ?? issuerKey);
}

async function readWith(authorization: string | undefined): Promise<ApiResult> {
  return call('GET', '/api/service-records', {
    headers: authorization === undefined ? {} : { authorization },
  });
}

async function readWithToken(token: string): Promise<ApiResult> {
  return readWith(`Bearer ${token}`);
}

function expectUnauthorized(result: ApiResult): void {
  expectProblem(result, 401, '/api/service-records');
  expect(result.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
}

function expectForbidden(result: ApiResult): void {
  expectProblem(result, 403, /^\/api\//);
}

async function recordCount(): Promise<number> {
  const [row] = await rows('SELECT COUNT(*) AS n FROM service_records');
  return Number(row?.['n']);
}

describe('authentication: the Authorization header', () => {
  it('answers 401 with a Bearer challenge when there is no Authorization header', async () => {
    const result = await readWith(undefined);
    expectUnauthorized(result);
    expect(result.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers 401 to every protected route and method without a token, before any other check', async () => {
    const before = await recordCount();
    // The dashboard's static files are public: the page calls the API with the user's token.
    // Web PubSub proves itself to its event handler by signature or its own token
    // (tests/functions/webPubSubEvents*.test.ts).
    const anonymous = new Set(['health', 'openapi', 'dashboard', 'webpubsub-events']);
    let checked = 0;
    for (const declaration of httpDeclarations(functionDeclarations)) {
      if (anonymous.has(declaration.name)) continue;
      // Ids that do not exist and a body that is not valid: 401 must still come first.
      const path = `/api/${declaration.route.replace(/\{\w+\}/g, '999999')}`;
      for (const method of declaration.methods) {
        const result = await call(method, path, {
          ...(method === 'POST' || method === 'PUT' ? { json: { bogus: true } } : {}),
        });
        expect(result.status, `${method} ${path}`).toBe(401);
        expect(result.headers.get('www-authenticate'), `${method} ${path}`).toMatch(/^Bearer/);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(12);
    expect(await recordCount()).toBe(before);
  });

  it.each([
    ['Basic credentials', 'Basic YWRtaW46YWRtaW4='],
    ['the scheme alone', 'Bearer'],
    ['the scheme and spaces', 'Bearer    '],
    ['a token without a scheme', 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln'],
    ['two tokens', 'Bearer abc.def.ghi jkl.mno.pqr'],
    ['a token with characters outside base64url', 'Bearer abc.d"ef.ghi'],
  ])('answers 401 to %s', async (_name, header) => {
    expectUnauthorized(await readWith(header));
  });

  it.each([
    ['garbage', 'not-a-jwt'],
    ['three garbage segments', 'aaaa.bbbb.cccc'],
    ['a JSON header with no payload', `${base64url.encode('{"alg":"ES256"}')}..`],
    ['10 KiB of token characters', 'a'.repeat(10 * 1024)],
  ])('answers 401 invalid_token to a bearer token that is %s', async (_name, token) => {
    const result = await readWithToken(token);
    expectUnauthorized(result);
    expect(result.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('refuses an Authorization header over 16 KiB with a 4xx, never a 5xx', async () => {
    const valid = await issuer.token(['Admin']);
    const result = await readWith(`Bearer ${valid}${'A'.repeat(16 * 1024)}`);
    expect([400, 401]).toContain(result.status);
    expect(result.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const huge = await readWith(`Bearer ${'x'.repeat(64 * 1024)}`);
    expect([400, 401]).toContain(huge.status);
  });

  it('accepts the scheme in any case, as RFC 9110 requires', async () => {
    const token = await issuer.token(['Admin']);
    expect((await readWith(`bearer ${token}`)).status).toBe(200);
    expect((await readWith(`BEARER ${token}`)).status).toBe(200);
  });

  it('ignores x-ms-client-principal while AUTH_TRUST_PLATFORM_PRINCIPAL is off', async () => {
    const principal = Buffer.from(
      JSON.stringify({
        auth_typ: 'aad',
        claims: [
          { typ: 'sub', val: 'platform-admin' },
          { typ: 'roles', val: 'Admin' },
        ],
      }),
    ).toString('base64');
    const result = await call('GET', '/api/service-records', {
      headers: { 'x-ms-client-principal': principal },
    });
    expectUnauthorized(result);
    const created = await call('POST', '/api/equipment', {
      headers: { 'x-ms-client-principal': principal },
      json: { serialNumber: 'SPOOF-1', name: 'Spoofed', type: 'loader' },
    });
    expect(created.status).toBe(401);
    expect(
      await rows("SELECT COUNT(*) AS n FROM equipment WHERE serial_number = 'SPOOF-1'"),
    ).toEqual([{ n: 0 }]);
  });
});

describe('authentication: token verification', () => {
  it('accepts a crafted token that follows the rules (the control for the cases below)', async () => {
    const result = await readWithToken(await craft());
    expect(result.status, result.text).toBe(200);
  });

  it('accepts tokens from the test issuer', async () => {
    expect((await readWithToken(await issuer.token(['Admin']))).status).toBe(200);
  });

  it('refuses an expired token', async () => {
    const result = await readWithToken(await issuer.token(['Admin'], 'test-admin', '-5m'));
    expectUnauthorized(result);
    expect(result.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    const now = Math.floor(Date.now() / 1000);
    expectUnauthorized(
      await readWithToken(await craft({ claims: { iat: now - 7200, exp: now - 3600 } })),
    );
  });

  it('refuses a token for another audience', async () => {
    expectUnauthorized(await readWithToken(await craft({ claims: { aud: 'api://someone-else' } })));
    expectUnauthorized(
      await readWithToken(await craft({ claims: { aud: `${issuer.issuer.audience}/extra` } })),
    );
  });

  it('refuses a token from another issuer', async () => {
    expectUnauthorized(
      await readWithToken(await craft({ claims: { iss: 'https://login.example.com/evil' } })),
    );
    expectUnauthorized(
      await readWithToken(await craft({ claims: { iss: `${issuer.issuer.issuer}/` } })),
    );
  });

  it('refuses a token that is not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    expectUnauthorized(await readWithToken(await craft({ claims: { nbf: now + 3600 } })));
  });

  it('refuses a token without an expiry or without a subject', async () => {
    expectUnauthorized(await readWithToken(await craft({ omit: ['exp'] })));
    expectUnauthorized(await readWithToken(await craft({ omit: ['sub'] })));
    expectUnauthorized(await readWithToken(await craft({ claims: { sub: '' } })));
  });

  it('refuses a subject longer than the 255 characters a change records as its actor', async () => {
    expectUnauthorized(await readWithToken(await craft({ claims: { sub: 'x'.repeat(256) } })));
    const longest = await readWithToken(await craft({ claims: { sub: 'x'.repeat(255) } }));
    expect(longest.status, longest.text).toBe(200);
  });

  it('refuses a token signed by a foreign key', async () => {
    expectUnauthorized(await readWithToken(await issuer.foreignToken(['Admin'])));
    // Same kid as the real key: the JWKS lookup succeeds and the signature must fail.
    const { privateKey } = await generateKeyPair('ES256');
    expectUnauthorized(await readWithToken(await craft({ key: privateKey })));
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const unsecured = new UnsecuredJWT({ roles: ['Admin'] })
      .setSubject('crafted-admin')
      .setIssuer(issuer.issuer.issuer)
      .setAudience(issuer.issuer.audience)
      .setIssuedAt()
      .setExpirationTime('10m')
      .encode();
    expectUnauthorized(await readWithToken(unsecured));
    // The same with the trailing dot removed, and with the real token's signature attached.
    expectUnauthorized(await readWithToken(unsecured.replace(/\.$/, '')));
    const [, , signature] = (await craft()).split('.');
    expectUnauthorized(await readWithToken(`${unsecured}${signature ?? ''}`));
  });

  it('refuses an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const publicJwk = issuer.issuer.jwks.keys[0]!;
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const token = await new SignJWT({ roles: ['Admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: issuerKid })
      .setSubject('crafted-admin')
      .setIssuer(issuer.issuer.issuer)
      .setAudience(issuer.issuer.audience)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(secret);
    expectUnauthorized(await readWithToken(token));
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await issuer.token(['Technician'], 'tech-x')).split('.');
    const now = Math.floor(Date.now() / 1000);
    const forged = base64url.encode(
      JSON.stringify({
        sub: 'tech-x',
        roles: ['Admin'],
        iss: issuer.issuer.issuer,
        aud: issuer.issuer.audience,
        iat: now,
        exp: now + 600,
      }),
    );
    expectUnauthorized(await readWithToken(`${header ?? ''}.${forged}.${signature ?? ''}`));
  });

  it('refuses a token naming a key the JWKS does not publish', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const kid = `unknown-${(await exportJWK(publicKey)).x ?? ''}`;
    expectUnauthorized(await readWithToken(await craft({ key: privateKey, header: { kid } })));
  });

  it('never creates anything for a refused token', async () => {
    const before = await recordCount();
    for (const token of [
      await issuer.foreignToken(['Admin']),
      await issuer.token(['Admin'], 'test-admin', '-5m'),
      await craft({ claims: { aud: 'api://someone-else' } }),
    ]) {
      const result = await call('POST', '/api/service-records', {
        token,
        json: {
          equipmentId,
          serviceType: 'repair',
          serviceDate: '2024-01-01T00:00:00Z',
          description: 'should not exist',
        },
      });
      expect(result.status).toBe(401);
    }
    expect(await recordCount()).toBe(before);
  });
});

describe('authorisation: roles', () => {
  it('lets Admin and Technician read lists and items', async () => {
    for (const roles of [['Admin'], ['Technician'], ['Technician', 'Admin']]) {
      const token = await issuer.token(roles, 'reader');
      const list = await call('GET', '/api/service-records', { token });
      expect(list.status, roles.join()).toBe(200);
      expect((list.body.items as { id: number }[]).map((i) => i.id)).toContain(recordId);
      const item = await call('GET', `/api/service-records/${recordId}`, { token });
      expect(item.status).toBe(200);
      expect(item.body.id).toBe(recordId);
      const equipment = await call('GET', `/api/equipment/${equipmentId}`, { token });
      expect(equipment.status).toBe(200);
    }
  });

  it('accepts a single role given as a string', async () => {
    expect((await readWithToken(await craft({ claims: { roles: 'Technician' } }))).status).toBe(
      200,
    );
  });

  it('answers 403 on reads for a valid token without a roles claim', async () => {
    const token = await craft({ omit: ['roles'] });
    expectForbidden(await readWithToken(token));
    expectForbidden(await call('GET', `/api/service-records/${recordId}`, { token }));
    expectForbidden(await call('GET', `/api/equipment/${equipmentId}/technicians`, { token }));
  });

  it.each([
    ['an empty roles claim', []],
    ['an unknown role', ['Viewer']],
    ['a role in the wrong case', ['admin']],
    ['a role with padding', [' Admin']],
    ['roles as an object', { Admin: true }],
  ])('answers 403 for %s', async (_name, roles) => {
    const result = await readWithToken(await craft({ claims: { roles } }));
    expectForbidden(result);
  });

  it('answers 403, not 401, to a Technician writing what only Admin may', async () => {
    const token = await issuer.token(['Technician'], 'tech-x');
    const result = await call('POST', '/api/equipment', {
      token,
      json: { serialNumber: 'TECH-EQ', name: 'Nope', type: 'loader' },
    });
    expectForbidden(result);
    expect(result.headers.get('www-authenticate')).toBeNull();
    const removed = await call('DELETE', `/api/service-records/${recordId}`, { token });
    expectForbidden(removed);
    expect(await recordCount()).toBeGreaterThan(0);
  });
});
