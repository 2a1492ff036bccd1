/**
 * What the instruments record, read back through a real meter provider: alert versions
 * counted by the change their timeline records, and dead letters counted per rejected
 * reading, those a letter left out of its bounded list included.
 */
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAlertVersion } from '../../../lib/observability/instruments.js';
import { rejectionsByReason } from '../../../lib/telemetry/processor.js';
import type { DeadLetter, DeadLetterReason } from '../../../lib/telemetry/partition.js';

const reader = new PrometheusExporter({ preventServerStart: true });
const provider = new MeterProvider({ readers: [reader] });
beforeAll(() => {
  expect(metrics.setGlobalMeterProvider(provider)).toBe(true);
});
afterAll(async () => {
  await provider.shutdown();
  metrics.disable();
});

/** Each data point of counter `name` as `attribute=value,...` → value. */
async function counter(name: string): Promise<Record<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const found = resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .find((metric) => metric.descriptor.name === name);
  return Object.fromEntries(
    (found?.dataPoints ?? []).map((point) => [
      Object.entries(point.attributes)
        .map(([key, value]) => `${key}=${String(value)}`)
        .sort()
        .join(','),
      point.value as number,
    ]),
  );
}

describe('alert changes', () => {
  it('counts the changes of the version written, by its severity and metric', async () => {
    recordAlertVersion({
      version: 3,
      severity: 'high',
      metric: 'vibration',
      timeline: [
        { version: 1, action: 'raised' },
        { version: 2, action: 'acknowledged' },
        { version: 3, action: 'escalated' },
      ],
    });
    // A raise while the equipment is under maintenance: raised, and suppressed.
    recordAlertVersion({
      version: 1,
      severity: 'critical',
      metric: 'temperature',
      suppressed: { reason: 'maintenance' },
      timeline: [{ version: 1, action: 'raised' }],
    });
    // Bookkeeping with no change of its own counts nothing.
    recordAlertVersion({
      version: 4,
      severity: 'high',
      metric: 'vibration',
      timeline: [{ version: 4, action: 'assigned' }],
    });
    expect(await counter('sis.alerts.changes')).toEqual({
      'change=escalated,metric=vibration,severity=high': 1,
      'change=raised,metric=temperature,severity=critical': 1,
      'change=suppressed,metric=temperature,severity=critical': 1,
    });
  });
});

describe('dead letters by reason', () => {
  it('counts every rejected reading, those left out of a bounded letter under its first reason', () => {
    const letter = (
      reasons: DeadLetterReason[],
      rejectedCount: number,
    ): Pick<DeadLetter, 'reason' | 'rejections' | 'rejectedCount'> => ({
      reason: reasons[0] ?? 'invalid',
      rejections: reasons.map((reason) => ({
        index: null,
        reason,
        equipmentId: '1',
        issues: [],
        raw: null,
        rawTruncated: false,
      })),
      rejectedCount,
    });
    expect(
      rejectionsByReason([
        letter(['invalid', 'late', 'invalid'], 3),
        letter(['malformed'], 1),
        letter(['future', 'invalid'], 10),
      ]),
    ).toEqual({ invalid: 3, late: 1, malformed: 1, future: 9 });
  });
});
