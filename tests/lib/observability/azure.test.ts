/** The Azure Monitor settings: read strictly, and nothing started without a connection string. */
import { metrics } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import {
  clientIdOf,
  samplingRatioOf,
  startAzureMonitor,
} from '../../../lib/observability/azure.js';

describe('Azure Monitor settings', () => {
  it('reads the sampling ratio as a share from 0 to 1, 1 by default', () => {
    expect(samplingRatioOf(undefined)).toBe(1);
    expect(samplingRatioOf('')).toBe(1);
    expect(samplingRatioOf('0.25')).toBe(0.25);
    expect(samplingRatioOf('0')).toBe(0);
    for (const bad of ['1.5', '-0.1', 'half', 'NaN']) {
      expect(() => samplingRatioOf(bad)).toThrow(
        'TRACES_SAMPLING_RATIO must be a number from 0 to 1',
      );
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
    expect(await startAzureMonitor({ TRACES_SAMPLING_RATIO: '0.5' })).toBe(false);
    expect(metrics.getMeterProvider()).toBe(before);
  });

  it('refuses a bad sampling ratio before starting anything', async () => {
    await expect(
      startAzureMonitor({
        APPLICATIONINSIGHTS_CONNECTION_STRING:
          'InstrumentationKey=00000000-0000-0000-0000-000000000000',
        TRACES_SAMPLING_RATIO: '2',
      }),
    ).rejects.toThrow('TRACES_SAMPLING_RATIO');
  });
});
