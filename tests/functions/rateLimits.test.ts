/**
 * Rate limits through the real handlers, counted in the test run's Redis under this file's
 * own key prefix, with small limits from RATE_LIMITS: per signed-in subject, per client
 * address for anonymous routes and refused tokens, per route class, admins higher; over the
 * limit 429 problem+json with Retry-After; the IETF fields on every answer.
 */
import { describe, expect, it } from 'vitest';
import { call, type ApiResult } from '../helpers/api.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { appServices, useAppSettings } from '../helpers/appServices.js';
import { useTestDatabase } from '../helpers/database.js';
import { insertEquipmentRows } from '../helpers/fixtures.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const limits = {
  reads: { limit: 3, adminLimit: 5, windowSeconds: 600 },
  writes: { limit: 2, adminLimit: 2, windowSeconds: 600 },
  negotiate: { limit: 1, adminLimit: 1, windowSeconds: 600 },
  dashboard: { limit: 2, adminLimit: 2, windowSeconds: 600 },
};
useAppSettings(() => ({ RATE_LIMITS: JSON.stringify(limits) }));
const tokens = useTokens(issuer, {
  alice: [['Technician'], 'tech-alice'],
  bashir: [['Technician'], 'tech-bashir'],
  admin: [['Admin'], 'admin-1'],
  writer: [['Admin'], 'admin-writer'],
  reader: [['Technician'], 'tech-reader'],
});

/** The `r` (remaining) of the RateLimit field of `result` in `policy`. */
function remaining(result: ApiResult, policy: string): number {
  const field = result.headers.get('ratelimit') ?? '';
  const match = new RegExp(`^"${policy}";r=(\\d+);t=(\\d+)$`).exec(field);
  expect(match, field).not.toBeNull();
  return Number(match?.[1]);
}

describe('rate limits per signed-in subject', () => {
  it('counts down on every answer, then answers 429 with Retry-After and the fields', async () => {
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const result = await call('GET', '/api/equipment', { token: tokens.alice });
      expect(result.status, result.text).toBe(200);
      expect(result.headers.get('ratelimit-policy')).toBe('"reads";q=3;w=600');
      seen.push(remaining(result, 'reads'));
    }
    expect(seen).toEqual([2, 1, 0]);
    const over = await call('GET', '/api/equipment', { token: tokens.alice });
    expect(over.status).toBe(429);
    expect(over.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(over.body).toMatchObject({
      type: 'urn:sis:problem:too-many-requests',
      status: 429,
      instance: '/api/equipment',
    });
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(over.headers.get('ratelimit-policy')).toBe('"reads";q=3;w=600');
    expect(remaining(over, 'reads')).toBe(0);
    expect(over.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('keeps each subject and each route class apart', async () => {
    // Alice's reads are spent (above); Bashir's are not, nor are Alice's writes.
    const bashir = await call('GET', '/api/equipment', { token: tokens.bashir });
    expect(bashir.status).toBe(200);
    expect(remaining(bashir, 'reads')).toBe(2);
    const write = await call('POST', '/api/equipment', { token: tokens.alice, json: {} });
    expect(write.status).not.toBe(429);
    expect(write.headers.get('ratelimit-policy')).toBe('"writes";q=2;w=600');
    expect(remaining(write, 'writes')).toBe(1);
  });

  it('limits admins too, at their own higher limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const result = await call('GET', '/api/equipment', { token: tokens.admin });
      expect(result.headers.get('ratelimit-policy')).toBe('"reads";q=5;w=600');
      statuses.push(result.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('counts writes refused for their content too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      statuses.push(
        (await call('POST', '/api/equipment', { token: tokens.writer, json: {} })).status,
      );
    }
    expect(statuses).toEqual([400, 400, 429]);
  });
});

describe('a limited read of a cached row', () => {
  it('is answered 429 without reaching the row: its version is read with the count, nothing more', async () => {
    const [id] = await insertEquipmentRows(db.pool, 1);
    const redis = appServices().redis;
    const client = await redis.client();
    // Only a read that went on past the count loads the row and leaves this copy in Redis.
    const copyKey = `${redis.keyPrefix}cache:equipment:${id}:r1`;
    const path = `/api/equipment/${id}`;
    for (let i = 0; i < 3; i++)
      expect((await call('GET', '/api/equipment', { token: tokens.reader })).status).toBe(200);
    const limited = await call('GET', path, { token: tokens.reader });
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ type: 'urn:sis:problem:too-many-requests' });
    expect(await client.exists(copyKey)).toBe(0);
    // A caller with reads left gets the row, and so the copy.
    expect((await call('GET', path, { token: tokens.bashir })).status).toBe(200);
    expect(await client.exists(copyKey)).toBe(1);
  });
});

describe('rate limits per client address', () => {
  it('limits anonymous routes by the address the platform appended, not one the client sent', async () => {
    const from = (forwarded: string) =>
      call('GET', '/api/openapi.json', { headers: { 'x-forwarded-for': forwarded } });
    // The client's own entries come first; the platform's is last (lib/http/rateLimits.ts).
    const statuses = [
      (await from('198.51.100.1, 203.0.113.9:50001')).status,
      (await from('198.51.100.2, 203.0.113.9:50002')).status,
      (await from('203.0.113.9:50003')).status,
      (await from('198.51.100.3, 203.0.113.9')).status,
    ];
    expect(statuses).toEqual([200, 200, 200, 429]);
    const other = await from('203.0.113.10');
    expect(other.status).toBe(200);
    expect(remaining(other, 'reads')).toBe(2);
  });

  it('counts requests whose token is refused against their address', async () => {
    const headers = { 'x-forwarded-for': '192.0.2.44', authorization: 'Bearer not-a-token' };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const result = await call('GET', '/api/equipment', { headers });
      expect(result.headers.get('ratelimit-policy')).toBe('"reads";q=3;w=600');
      statuses.push(result.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });

  it('gives the dashboard files a class of their own', async () => {
    const headers = { 'x-forwarded-for': '192.0.2.50' };
    const first = await call('GET', '/api/dashboard/', { headers });
    expect(first.headers.get('ratelimit-policy')).toBe('"dashboard";q=2;w=600');
    await call('GET', '/api/dashboard/', { headers });
    expect((await call('GET', '/api/dashboard/', { headers })).status).toBe(429);
    // The same address still has its reads.
    expect((await call('GET', '/api/openapi.json', { headers })).status).toBe(200);
  });
});
