/**
 * Redis unreachable (REDIS_URL at a closed loopback port, with a password that must never
 * appear in an answer): `/api/health` names it as down but answers 200 `degraded`, and the API keeps serving, its
 * requests unlimited (fail open) with the policy still announced; equipment reads and
 * writes go to MySQL; live locations, kept nowhere else, answer 503.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { unusedPort } from '../../dev/ports.js';
import { call } from '../helpers/api.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { appServices, useAppSettings } from '../helpers/appServices.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';

useTestDatabase();
useAppCosmos();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  alice: [['Technician'], 'tech-alice'],
  admin: [['Admin'], 'admin-outage'],
});
const password = 'r3dis-pw';
let port = 0;

beforeAll(async () => {
  port = await unusedPort();
});
useAppSettings(() => ({
  REDIS_URL: `redis://default:${password}@127.0.0.1:${port}`,
  REDIS_TIMEOUT_MS: '200',
  RATE_LIMITS: JSON.stringify({ reads: { limit: 1 } }),
}));

describe('with Redis down', () => {
  it('health answers 200 degraded naming Redis as unreachable, without its address or password', async () => {
    const result = await call('GET', '/api/health');
    expect(result.status, result.text).toBe(200);
    expect(result.headers.get('retry-after')).toBeNull();
    expect(result.body).toMatchObject({
      status: 'degraded',
      checks: {
        mysql: { status: 'up' },
        cosmos: { status: 'up' },
        redis: { status: 'down', reason: 'unreachable' },
      },
    });
    for (const secret of [password, String(port), 'redis://']) {
      expect(result.text).not.toContain(secret);
    }
  });

  it('keeps serving past the limit, announcing the policy but no count', async () => {
    const before = appServices().rateLimits.failOpenTotal;
    for (let i = 0; i < 3; i++) {
      const result = await call('GET', '/api/equipment', { token: tokens.alice });
      expect(result.status, result.text).toBe(200);
      expect(result.headers.get('ratelimit-policy')).toBe('"reads";q=1;w=900');
      expect(result.headers.get('ratelimit')).toBeNull();
    }
    expect(appServices().rateLimits.failOpenTotal - before).toBe(3);
  });

  it('reads and writes equipment through MySQL, and answers 503 for live locations', async () => {
    const created = await call('POST', '/api/equipment', {
      token: tokens.admin,
      json: { name: 'Outage', type: 'loader', latitude: 60, longitude: 10 },
    });
    expect(created.status, created.text).toBe(201);
    const replaced = await call('PUT', `/api/equipment/${created.body.id}`, {
      token: tokens.admin,
      json: { name: 'Outage 2', type: 'loader', latitude: 60, longitude: 10 },
      headers: { 'if-match': '"1"' },
    });
    expect(replaced.status).toBe(200);
    const read = await call('GET', `/api/equipment/${created.body.id}`, { token: tokens.admin });
    expect(read.body).toMatchObject({ name: 'Outage 2', version: 2 });
    const fleet = await call('GET', '/api/fleet', { token: tokens.admin });
    expect(fleet.status, fleet.text).toBe(200);
    expect(fleet.body.rows).toContainEqual([
      created.body.id,
      'Outage 2',
      'loader',
      null,
      null,
      'Operational',
      null,
    ]);
    const nearest = await call('GET', `/api/equipment/${created.body.id}/nearest-technicians`, {
      token: tokens.admin,
    });
    expect(nearest.status).toBe(503);
    expect(nearest.headers.get('retry-after')).toBe('5');
    expect(nearest.text).not.toContain(String(port));
  });
});
