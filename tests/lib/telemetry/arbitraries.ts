/** fast-check generators shared by the telemetry tests. */
import fc from 'fast-check';
import { metricBounds, metricNames, valueScale } from '../../../lib/telemetry/reading.js';
import type { MetricName, Reading } from '../../../lib/telemetry/reading.js';

/** A fixed "enqueued" instant: tests never look at the wall clock. */
export const enqueuedTimeMs = Date.UTC(2024, 4, 1, 12, 0, 0);

/** A metric value already at 4-decimal precision, bounds included more often than chance. */
export function metricValue(metric: MetricName): fc.Arbitrary<number> {
  const { min, max } = metricBounds[metric];
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(min, max) },
    {
      weight: 9,
      arbitrary: fc
        .integer({ min: min * valueScale, max: max * valueScale })
        .map((scaled) => (scaled === 0 ? 0 : scaled / valueScale)),
    },
  );
}

/** A valid reading as the schema outputs it, stamped within the hour before `enqueuedTimeMs`. */
export const readingArb: fc.Arbitrary<Reading> = fc
  .record({
    equipmentId: fc.constantFrom('eq-1', 'eq-2', 'EX.42:a_b-c'),
    timestamp: fc.integer({ min: enqueuedTimeMs - 3_600_000, max: enqueuedTimeMs }),
    metrics: fc.subarray([...metricNames], { minLength: 1 }),
    temperature: metricValue('temperature'),
    vibration: metricValue('vibration'),
    pressure: metricValue('pressure'),
  })
  .map(({ equipmentId, timestamp, metrics, ...values }) => {
    const reading: Reading = { equipmentId, timestamp };
    for (const metric of metricNames) {
      if (metrics.includes(metric)) reading[metric] = values[metric];
    }
    return reading;
  });

/** Deep-freezes a value so any mutation by the code under test throws. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
