/**
 * /api/health with MySQL up: anonymous, 200, one check per dependency, and nothing from the
 * connection settings in the answer.
 */
import { describe, expect, it } from 'vitest';
import { call } from '../helpers/api.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useTestDatabase } from '../helpers/database.js';

const db = useTestDatabase();
// Health needs no token, but the app's settings include the AUTH_* values.
const issuer = useTestIssuer();
const cosmos = useAppCosmos();

describe('health with MySQL and Cosmos up', () => {
  it('answers 200 anonymously with MySQL up', async () => {
    const result = await call('GET', '/api/health');
    expect(result.status, result.text).toBe(200);
    expect(result.headers.get('content-type')).toMatch(/^application\/json/);
    expect(result.headers.get('cache-control')).toBe('no-store');
    expect(result.body).toEqual({
      status: 'healthy',
      checks: {
        mysql: { status: 'up', latencyMs: expect.any(Number) },
        cosmos: { status: 'up', latencyMs: expect.any(Number) },
        redis: { status: 'up', latencyMs: expect.any(Number) },
      },
    });
    expect(result.body.checks.mysql.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('never shows the connection settings', async () => {
    const result = await call('GET', '/api/health');
    const url = new URL(db.url);
    expect(result.text).not.toContain('mysql://');
    expect(result.text).not.toContain(db.name);
    expect(result.text).not.toContain(url.host);
    expect(result.text).not.toContain(`:${url.port}`);
    if (url.password) expect(result.text).not.toContain(decodeURIComponent(url.password));
    expect(result.logs.join('\n')).not.toContain(db.url);
    expect(result.text).not.toContain(cosmos.endpoint);
    expect(result.text).not.toContain(cosmos.databaseId);
  });

  it('ignores whatever credentials are sent', async () => {
    for (const authorization of [
      'Bearer garbage',
      'Basic YWRtaW46YWRtaW4=',
      `Bearer ${await issuer.foreignToken(['Admin'])}`,
      `Bearer ${'x'.repeat(20_000)}`,
    ]) {
      const result = await call('GET', '/api/health', { headers: { authorization } });
      expect(result.status, authorization.slice(0, 30)).toBe(200);
    }
    const withToken = await call('GET', '/api/health', { token: await issuer.token([]) });
    expect(withToken.status).toBe(200);
  });

  it('reuses the pool across many concurrent checks', async () => {
    const results = await Promise.all(Array.from({ length: 25 }, () => call('GET', '/api/health')));
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 25 }, () => 200));
    const [rows] = await db.pool.query(
      'SELECT COUNT(*) AS n FROM information_schema.processlist WHERE db = ?',
      [db.name],
    );
    // The test's own pool (up to 4) plus the app's single pool (default size 10).
    expect((rows as { n: number }[])[0]?.n).toBeLessThanOrEqual(14);
  });
});
