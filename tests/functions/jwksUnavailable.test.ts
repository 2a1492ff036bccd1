/**
 * The identity provider's key set cannot be fetched: AUTH_JWKS_URI points at a loopback port
 * nothing listens on (the file's own app settings, tests/helpers/appServices.ts). A
 * valid token must then be a 503 (our problem), not a 401 (the caller's), and the service
 * must recover once the keys are reachable again.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiResult } from '../helpers/api.js';
import { useAppSettings } from '../helpers/appServices.js';
import { useTestIssuer } from '../helpers/auth.js';
import { unusedPort } from '../../dev/ports.js';
import { expectProblem } from '../helpers/problems.js';

const issuer = useTestIssuer();
let port = 0;
let server: Server | undefined;

/** Serves `respond` on the (until now closed) JWKS port. */
async function serveJwks(status: number, body: string, contentType = 'application/json') {
  server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': contentType }).end(body);
  });
  await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
}

async function stopJwks(): Promise<void> {
  const current = server;
  server = undefined;
  if (!current) return;
  current.closeAllConnections();
  await new Promise<void>((resolve) =>
    current.close(() => {
      resolve();
    }),
  );
}

beforeAll(async () => {
  port = await unusedPort();
});
useAppSettings(() => ({
  AUTH_JWKS_URI: `http://127.0.0.1:${port}/jwks.json`,
  // Never reached: authentication fails first. Required by the settings schema.
  MYSQL_URL: 'mysql://unused:unused@127.0.0.1:9/unused',
}));

afterEach(stopJwks);
afterAll(stopJwks);

function expectUnavailable(result: ApiResult): void {
  expectProblem(result, 503, '/api/service-records');
  expect(result.text).not.toContain(String(port));
  expect(result.text).not.toContain('jwks');
}

describe('JWKS unavailable', () => {
  it('answers 503, not 401, to a valid token while the key set is unreachable', async () => {
    const token = await issuer.token(['Admin']);
    expectUnavailable(await call('GET', '/api/service-records', { token }));
    // Still 503 on the next attempt: no cached failure turns into a 401.
    expectUnavailable(await call('GET', '/api/service-records', { token }));
  });

  it('still answers 401 to a request without a token', async () => {
    const result = await call('GET', '/api/service-records');
    expect(result.status).toBe(401);
    expect(result.headers.get('www-authenticate')).toBe('Bearer');
  });

  it.each([
    ['answers HTTP 503', 503, '{"error":"unavailable"}', 'application/json'],
    ['answers HTTP 500 with an HTML page', 500, '<html>oops</html>', 'text/html'],
    ['answers 200 with a body that is not JSON', 200, '<html>maintenance</html>', 'text/html'],
  ])(
    'answers 503, not 401, to a valid token while the key set endpoint %s',
    async (_name, status, body, contentType) => {
      await serveJwks(status, body, contentType);
      const token = await issuer.token(['Admin']);
      expectUnavailable(await call('GET', '/api/service-records', { token }));
    },
  );

  it('accepts the same kind of token once the key set is reachable again', async () => {
    await serveJwks(200, JSON.stringify(issuer.issuer.jwks));
    const token = await issuer.token(['Admin']);
    // Authentication passes; the request then fails validation before touching MySQL.
    const result = await call('POST', '/api/equipment', { token, json: { bogus: true } });
    expect(result.status, result.text).toBe(400);
    expect(result.body.type).toBe('urn:sis:problem:validation');
    const foreign = await call('POST', '/api/equipment', {
      token: await issuer.foreignToken(['Admin']),
      json: { bogus: true },
    });
    expect(foreign.status).toBe(401);
  });
});
