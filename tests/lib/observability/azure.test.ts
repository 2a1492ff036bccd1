/** The Azure Monitor settings: read strictly, and nothing started without a connection string. */
import { metrics } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadSection } from '../../../lib/config.js';
import { clientIdOf, startAzureMonitor } from '../../../lib/observability/azure.js';

describe('Azure Monitor settings', () => {
  it('reads the sampling ratio as a share from 0 to 1, 1 by default', () => {
    expect(loadSection('monitor', {}).TRACES_SAMPLING_RATIO).toBe(1);
    expect(loadSection('monitor', { TRACES_SAMPLING_RATIO: '0.25' }).TRACES_SAMPLING_RATIO).toBe(
      0.25,
    );
    for (const bad of ['1.5', '-0.1', 'half']) {
      expect(() => loadSection('monitor', { TRACES_SAMPLING_RATIO: bad })).toThrow(ConfigError);
    }
  });

  it('finds the managed identity client id in the authentication string', () => {
    expect(clientIdOf('ClientId=0f1e2d3c-aaaa-bbbb-cccc-123456789abc;Authorization=AAD')).toBe(
      '0f1e2d3c-aaaa-bbbb-cccc-123456789abc',
    );
    expect(clientIdOf('Authorization=AAD; clientid=abc')).toBe('abc');
    expect(clientIdOf('Authorization=AAD')).toBeUndefined();
    expect(clientIdOf(undefined)).toBeUndefined();
  });

  it('starts nothing without a connection string', async () => {
    const before = metrics.getMeterProvider();
    expect(await startAzureMonitor(loadSection('monitor', { TRACES_SAMPLING_RATIO: '0.5' }))).toBe(
      false,
    );
    expect(metrics.getMeterProvider()).toBe(before);
  });
});
