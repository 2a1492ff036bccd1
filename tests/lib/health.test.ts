/**
 * How the checks' results make the overall status: Redis (optional) down alone degrades,
 * any required dependency down makes the app unhealthy whatever else is up.
 */
import { describe, expect, it } from 'vitest';
import { checkHealth, type HealthCheck } from '../../lib/health.js';
import { DependencyUnavailableError } from '../../lib/errors.js';

const up: HealthCheck = async () => {};
const down: HealthCheck = () =>
  Promise.reject(new DependencyUnavailableError('redis', { reason: 'unreachable' }));

describe('checkHealth', () => {
  it('is healthy when every check is up', async () => {
    const result = await checkHealth({ mysql: up, cosmos: up, redis: up });
    expect(result.status).toBe('healthy');
  });

  it('is degraded when only Redis is down, and says so in its check', async () => {
    const result = await checkHealth({ mysql: up, cosmos: up, redis: down });
    expect(result.status).toBe('degraded');
    expect(result.checks['redis']).toMatchObject({ status: 'down', reason: 'unreachable' });
  });

  it('is unhealthy when a required dependency is down, with or without Redis', async () => {
    for (const checks of [
      { mysql: down, cosmos: up, redis: up },
      { mysql: up, cosmos: down, redis: down },
      { mysql: down, cosmos: down, redis: down },
    ]) {
      expect((await checkHealth(checks)).status).toBe('unhealthy');
    }
  });

  it('reports a check past its deadline as timed out', async () => {
    const never: HealthCheck = () => new Promise(() => undefined);
    const result = await checkHealth({ mysql: up, redis: never }, undefined, 20);
    expect(result).toMatchObject({
      status: 'degraded',
      checks: { redis: { reason: 'timed out' } },
    });
  });
});
