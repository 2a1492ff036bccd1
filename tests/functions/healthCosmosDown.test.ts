/**
 * /api/health with Cosmos unreachable (its endpoint a closed loopback port) and MySQL up:
 * 503, Cosmos reported down with a fixed reason, nothing from its settings in the answer.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { COSMOS_EMULATOR_KEY } from '../../lib/cosmos/client.js';
import { call } from '../helpers/api.js';
import { useAppSettings } from '../helpers/appServices.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';
import { unusedPort } from '../../dev/ports.js';

useTestDatabase();
useTestIssuer();
let port: number;

beforeAll(async () => {
  port = await unusedPort();
});
useAppSettings(() => ({
  COSMOS__accountEndpoint: `https://127.0.0.1:${port}/`,
  COSMOS_KEY: COSMOS_EMULATOR_KEY,
  COSMOS_DATABASE: 'sis-secret-db-name',
}));

describe('health with Cosmos down', () => {
  it('answers 503 with Cosmos down and MySQL up, and no settings in the body', async () => {
    const result = await call('GET', '/api/health');
    expect(result.status).toBe(503);
    expect(result.body).toEqual({
      status: 'unhealthy',
      checks: {
        mysql: { status: 'up', latencyMs: expect.any(Number) },
        cosmos: {
          status: 'down',
          latencyMs: expect.any(Number),
          reason: expect.stringMatching(/^(unreachable|timed out)$/),
        },
        redis: { status: 'up', latencyMs: expect.any(Number) },
      },
    });
    expect(result.text).not.toContain(String(port));
    expect(result.text).not.toContain('sis-secret-db-name');
    expect(result.text).not.toContain(COSMOS_EMULATOR_KEY);
  });
});
