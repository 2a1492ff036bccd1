/**
 * /api/health with MySQL unreachable: MYSQL_URL points at a closed loopback port, with a
 * password and user that must never appear in any answer (the file's own app settings,
 * tests/helpers/appServices.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { call, type ApiResult } from '../helpers/api.js';
import { useAppSettings } from '../helpers/appServices.js';
import { useTestIssuer } from '../helpers/auth.js';
import { unusedPort } from '../../dev/ports.js';

const issuer = useTestIssuer();
const password = 's3cret-pw';
const user = 'health-user';
const database = 'sis_health_down';
let port = 0;

beforeAll(async () => {
  port = await unusedPort();
});
useAppSettings(() => ({
  MYSQL_URL: `mysql://${user}:${password}@127.0.0.1:${port}/${database}`,
}));

function expectNoSecrets(result: ApiResult): void {
  for (const secret of [password, 'mysql://', String(port), user, database, 'ECONNREFUSED']) {
    expect(result.text, secret).not.toContain(secret);
  }
}

describe('health with MySQL down', () => {
  it('answers 503 naming MySQL as down, without the password, port or URL', async () => {
    const result = await call('GET', '/api/health');
    expect(result.status, result.text).toBe(503);
    expect(result.headers.get('content-type')).toMatch(/^application\/json/);
    expect(result.body).toMatchObject({
      status: 'unhealthy',
      checks: { mysql: { status: 'down', reason: expect.any(String) } },
    });
    expectNoSecrets(result);
    expect(result.logs.join('\n')).not.toContain(password);
  });

  it('stays 503 on later checks (no cached success, no crash)', async () => {
    for (let i = 0; i < 3; i++) {
      const result = await call('GET', '/api/health');
      expect(result.status).toBe(503);
      expectNoSecrets(result);
    }
  });

  it('answers a protected request with a 5xx problem that hides the cause', async () => {
    const token = await issuer.token(['Admin']);
    const result = await call('GET', '/api/service-records', { token });
    expect(result.status).toBeGreaterThanOrEqual(500);
    expect(result.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(result.body).toMatchObject({ status: result.status, instance: '/api/service-records' });
    expectNoSecrets(result);
    if (result.status === 500) {
      expect(result.body.invocationId).toBe('test-invocation');
      expect(result.logs.join('\n')).toContain('test-invocation');
    }
  });
});
