/**
 * Exact, order-independent window aggregates.
 *
 * Event Hubs delivers at least once and in batches of any size, so a window's aggregate is
 * built from partial aggregates merged in whatever order they happen to be read back. Only
 * operations that are exactly associative and commutative are used: counts and sums of
 * integers (values scaled by 10^4, see {@link valueScale}), min and max. Floating-point
 * sums would differ in the last bit depending on merge order, which would break
 * "a replay yields exactly the aggregates of one clean pass".
 *
 * Every function returns a new object with keys in one canonical order (`readings`, then
 * the metrics in {@link metricNames} order), so equal aggregates also serialise to
 * byte-identical JSON.
 */
import { z } from 'zod';
import { metricBounds, metricNames, toScaled, valueScale } from './reading.js';
import type { MetricName, Reading } from './reading.js';

export { valueScale } from './reading.js';

/** Aggregate of one metric over some readings. */
export interface MetricStats {
  /** Readings that carried this metric (≥ 1; a metric with none is absent instead). */
  count: number;
  min: number;
  max: number;
  /** Σ round(value × 10^4): an exact integer, so merges never lose or reorder bits. */
  sumScaled: number;
}

/** Aggregate of a window (or part of one): readings seen, and stats per metric present. */
export type WindowStats = { readings: number } & Partial<Record<MetricName, MetricStats>>;

/** Count, min, max and mean of one metric, as stored and shown. */
export interface MetricSummary {
  count: number;
  min: number;
  max: number;
  mean: number;
}

/** A window's aggregates in the form people and alerts read. */
export interface StatsSummary {
  readings: number;
  metrics: Partial<Record<MetricName, MetricSummary>>;
}

/**
 * Largest |round(value × 10^4)| a single reading can contribute: pressure at 1000 psi
 * gives 10^7.
 */
export const maxScaledMagnitude =
  Math.max(
    ...metricNames.map((metric) =>
      Math.max(Math.abs(metricBounds[metric].min), Math.abs(metricBounds[metric].max)),
    ),
  ) * valueScale;

/**
 * How many readings a sum can hold and stay exact even if every one sits at the most
 * extreme bound: ⌊(2^53 − 1) / 10^7⌋ ≈ 9 × 10^8. A five-minute window of one device at
 * one reading per millisecond is 3 × 10^5, so the limit is never near; it is still
 * checked on every add and merge, because an inexact sum must fail loudly.
 */
export const maxExactReadings = Math.floor(Number.MAX_SAFE_INTEGER / maxScaledMagnitude);

/** The aggregate of no readings; the identity of {@link mergeStats}. */
export function emptyStats(): WindowStats {
  return { readings: 0 };
}

function checkedSum(a: number, b: number): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum)) {
    throw new RangeError(`Aggregate ${String(sum)} is beyond exact integer range`);
  }
  return sum;
}

function mergeMetric(
  a: MetricStats | undefined,
  b: MetricStats | undefined,
): MetricStats | undefined {
  if (a === undefined) return b === undefined ? undefined : { ...b };
  if (b === undefined) return { ...a };
  return {
    count: checkedSum(a.count, b.count),
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    sumScaled: checkedSum(a.sumScaled, b.sumScaled),
  };
}

/**
 * Stats with keys in canonical order (so JSON of equal stats is identical). With every metric
 * present (the common case) it is one object literal: an object given its properties one by
 * one keeps only the first in the object and the rest in a separate property array, one more
 * allocation and an indirection on every read (V8's `%DebugPrint` shows `PropertyArray[3]`),
 * for objects that live as long as their window.
 */
function statsOf(
  readings: number,
  temperature: MetricStats | undefined,
  vibration: MetricStats | undefined,
  pressure: MetricStats | undefined,
): WindowStats {
  if (temperature !== undefined && vibration !== undefined && pressure !== undefined) {
    return { readings, temperature, vibration, pressure };
  }
  const stats: WindowStats = { readings };
  if (temperature !== undefined) stats.temperature = temperature;
  if (vibration !== undefined) stats.vibration = vibration;
  if (pressure !== undefined) stats.pressure = pressure;
  return stats;
}

/** Builds stats with keys in canonical order from each metric's stats. */
function canonical(
  readings: number,
  metric: (name: MetricName) => MetricStats | undefined,
): WindowStats {
  return statsOf(readings, metric('temperature'), metric('vibration'), metric('pressure'));
}

/**
 * `stats` with one more reading folded in; `stats` is not changed. Values are taken at
 * 4-decimal precision (a no-op for readings from the schema, which are rounded already).
 * Throws a `RangeError` for a non-finite value, which the schema never lets through.
 */
export function addReading(stats: WindowStats, reading: Reading): WindowStats {
  return canonical(checkedSum(stats.readings, 1), (name) => {
    const value = reading[name];
    const current = stats[name];
    if (value === undefined) return current === undefined ? undefined : { ...current };
    if (!Number.isFinite(value)) {
      throw new RangeError(`${name} must be a finite number, got ${String(value)}`);
    }
    const scaled = toScaled(value);
    const rounded = scaled / valueScale;
    return mergeMetric(current, { count: 1, min: rounded, max: rounded, sumScaled: scaled });
  });
}

/**
 * `stats` with one more reading folded in, changing `stats` itself when it already has every
 * metric the reading carries (the common case: no new objects), else a new aggregate in
 * canonical key order. Only for aggregates the caller owns and nobody else holds yet (the
 * fold's own accumulators): the result equals {@link addReading}'s.
 */
export function accumulateReading(stats: WindowStats, reading: Reading): WindowStats {
  for (const name of metricNames) {
    if (reading[name] !== undefined && stats[name] === undefined) return addReading(stats, reading);
  }
  stats.readings = checkedSum(stats.readings, 1);
  for (const name of metricNames) {
    const value = reading[name];
    if (value === undefined) continue;
    if (!Number.isFinite(value)) {
      throw new RangeError(`${name} must be a finite number, got ${String(value)}`);
    }
    const current = stats[name] as MetricStats;
    const scaled = toScaled(value);
    const rounded = scaled / valueScale;
    current.count = checkedSum(current.count, 1);
    current.min = Math.min(current.min, rounded);
    current.max = Math.max(current.max, rounded);
    current.sumScaled = checkedSum(current.sumScaled, scaled);
  }
  return stats;
}

/** One metric's stats of a single value (a no-op rounding for schema output). */
function metricOfValue(name: MetricName, value: number): MetricStats {
  if (!Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number, got ${String(value)}`);
  }
  const scaled = toScaled(value);
  const rounded = scaled / valueScale;
  return { count: 1, min: rounded, max: rounded, sumScaled: scaled };
}

/**
 * The aggregate of one reading: `addReading(emptyStats(), reading)`, built directly (it is
 * made for every new equipment and window of a batch).
 */
export function statsOfReading(reading: Reading): WindowStats {
  const { temperature, vibration, pressure } = reading;
  return statsOf(
    1,
    temperature === undefined ? undefined : metricOfValue('temperature', temperature),
    vibration === undefined ? undefined : metricOfValue('vibration', vibration),
    pressure === undefined ? undefined : metricOfValue('pressure', pressure),
  );
}

/** A copy of `stats` that shares no object with it, in canonical key order. */
export function copyStats(stats: WindowStats): WindowStats {
  const { temperature, vibration, pressure } = stats;
  return statsOf(
    stats.readings,
    temperature === undefined ? undefined : copyMetric(temperature),
    vibration === undefined ? undefined : copyMetric(vibration),
    pressure === undefined ? undefined : copyMetric(pressure),
  );
}

/** A copy of one metric's stats, in their key order, as one literal (see {@link statsOf}). */
function copyMetric({ count, min, max, sumScaled }: MetricStats): MetricStats {
  return { count, min, max, sumScaled };
}

/**
 * `into` with `from` merged in, changing `into` itself when it already has every metric
 * `from` has, else a new aggregate in canonical key order; `from` is never changed. Only for
 * an aggregate the caller owns: the result equals {@link mergeStats}'s.
 */
export function accumulateStats(into: WindowStats, from: WindowStats): WindowStats {
  for (const name of metricNames) {
    if (from[name] !== undefined && into[name] === undefined) return mergeStats(into, from);
  }
  into.readings = checkedSum(into.readings, from.readings);
  for (const name of metricNames) {
    const add = from[name];
    if (add === undefined) continue;
    const current = into[name] as MetricStats;
    current.count = checkedSum(current.count, add.count);
    current.min = Math.min(current.min, add.min);
    current.max = Math.max(current.max, add.max);
    current.sumScaled = checkedSum(current.sumScaled, add.sumScaled);
  }
  return into;
}

/**
 * The aggregate of the readings behind `a` and `b` together. Exactly associative and
 * commutative, with {@link emptyStats} as identity, so partial aggregates can be merged in
 * any grouping and order. Inputs are not changed.
 */
export function mergeStats(a: WindowStats, b: WindowStats): WindowStats {
  return canonical(checkedSum(a.readings, b.readings), (name) => mergeMetric(a[name], b[name]));
}

/**
 * Mean of a metric. Computed as sumScaled / (count × 10^4): one correctly rounded division
 * (count × 10^4 is exact), so the result is the double nearest the true mean, and a mean
 * exactly on a threshold compares as exactly on it. Throws a `RangeError` for count 0.
 */
export function meanOf(metric: MetricStats): number {
  if (!(metric.count > 0)) throw new RangeError('The mean of no readings is undefined');
  return metric.sumScaled / (metric.count * valueScale);
}

/** Mean of each metric present, the input `gradeWindow` (severity.ts) grades. */
export function meansOf(stats: WindowStats): Partial<Record<MetricName, number>> {
  const means: Partial<Record<MetricName, number>> = {};
  for (const name of metricNames) {
    const metric = stats[name];
    if (metric !== undefined) means[name] = meanOf(metric);
  }
  return means;
}

/** Count, min, max and mean per metric present. */
export function summarize(stats: WindowStats): StatsSummary {
  const metrics: Partial<Record<MetricName, MetricSummary>> = {};
  for (const name of metricNames) {
    const metric = stats[name];
    if (metric !== undefined) {
      metrics[name] = {
        count: metric.count,
        min: metric.min,
        max: metric.max,
        mean: meanOf(metric),
      };
    }
  }
  return { readings: stats.readings, metrics };
}

const countSchema = z.number().int().min(1).max(maxExactReadings);

/** One metric's stats as stored (for reading partial aggregates back from a store). */
export const metricStatsSchema = z
  .object({
    count: countSchema,
    min: z.number(),
    max: z.number(),
    sumScaled: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  })
  .refine((stats) => stats.min <= stats.max, { error: 'min must not exceed max' });

/**
 * {@link WindowStats} as stored. Checks shape, not provenance: a document that passes can
 * be merged without losing exactness.
 */
export const windowStatsSchema = z
  .object({
    readings: z.number().int().min(0).max(maxExactReadings),
    temperature: metricStatsSchema.optional(),
    vibration: metricStatsSchema.optional(),
    pressure: metricStatsSchema.optional(),
  })
  .transform((value): WindowStats => canonical(value.readings, (name) => value[name]));
