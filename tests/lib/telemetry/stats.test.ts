import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { metricNames, toScaled, type Reading } from '../../../lib/telemetry/reading.js';
import {
  accumulateReading,
  accumulateStats,
  addReading,
  copyStats,
  emptyStats,
  maxExactReadings,
  maxScaledMagnitude,
  meanOf,
  meansOf,
  mergeStats,
  statsOfReading,
  summarize,
  valueScale,
  windowStatsSchema,
  type WindowStats,
} from '../../../lib/telemetry/stats.js';
import { deepFreeze, readingArb } from './arbitraries.js';

const base = { equipmentId: 'eq-1', timestamp: Date.UTC(2024, 4, 1, 12) };
const fold = (readings: readonly Reading[], from: WindowStats = emptyStats()) =>
  readings.reduce(addReading, from);

/** Exact equality, including key order (what a stored document's bytes depend on). */
function expectIdentical(actual: WindowStats, expected: WindowStats): void {
  expect(actual).toStrictEqual(expected);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

/** Independent reference: the aggregate computed directly from its definition. */
function reference(readings: readonly Reading[]): WindowStats {
  const stats: WindowStats = { readings: readings.length };
  for (const metric of metricNames) {
    const values = readings.flatMap((r) => (r[metric] === undefined ? [] : [r[metric]]));
    if (values.length === 0) continue;
    stats[metric] = {
      count: values.length,
      min: Math.min(...values),
      max: Math.max(...values),
      sumScaled: values.reduce((sum, v) => sum + Math.round(v * 10_000), 0),
    };
  }
  return stats;
}

describe('addReading', () => {
  it('starts from an empty aggregate', () => {
    expect(emptyStats()).toStrictEqual({ readings: 0 });
    const a = emptyStats();
    a.readings = 5;
    expect(emptyStats()).toStrictEqual({ readings: 0 });
  });

  it('counts readings and each metric it carries', () => {
    const stats = fold([
      { ...base, temperature: 70, vibration: 2.5 },
      { ...base, temperature: 74.1234 },
      { ...base, pressure: 40 },
    ]);
    expectIdentical(stats, {
      readings: 3,
      temperature: { count: 2, min: 70, max: 74.1234, sumScaled: 1_441_234 },
      vibration: { count: 1, min: 2.5, max: 2.5, sumScaled: 25_000 },
      pressure: { count: 1, min: 40, max: 40, sumScaled: 400_000 },
    });
  });

  it('does not change its input', () => {
    const before = deepFreeze(fold([{ ...base, temperature: 70 }]));
    const after = addReading(before, { ...base, temperature: 80, pressure: 3 });
    expect(before).toStrictEqual({
      readings: 1,
      temperature: { count: 1, min: 70, max: 70, sumScaled: 700_000 },
    });
    expect(after.readings).toBe(2);
    expect(after.temperature).not.toBe(before.temperature);
  });

  it('keeps sums exact where floating point would drift', () => {
    const values = [0.1, 0.2, 0.3];
    expect(values.reduce((a, b) => a + b, 0)).not.toBe(0.6); // the drift being avoided
    const stats = fold(values.map((vibration) => ({ ...base, vibration })));
    expect(stats.vibration!.sumScaled).toBe(6000);
    expect(meanOf(stats.vibration!)).toBe(0.2);
  });

  it('gives a mean exactly on a threshold when the readings average to it', () => {
    const stats = fold(
      [80.0001, 79.9998, 80.0001].map((temperature) => ({ ...base, temperature })),
    );
    expect(meanOf(stats.temperature!)).toBe(80);
  });

  it('takes values at 4-decimal precision, and never stores -0', () => {
    const stats = fold([
      { ...base, temperature: 1.23456 },
      { ...base, vibration: -0 },
    ]);
    expect(stats.temperature).toStrictEqual({
      count: 1,
      min: 1.2346,
      max: 1.2346,
      sumScaled: 12_346,
    });
    expect(Object.is(stats.vibration!.min, 0)).toBe(true);
    expect(Object.is(stats.vibration!.sumScaled, 0)).toBe(true);
  });

  it('refuses non-finite values (the schema never lets them through)', () => {
    expect(() => addReading(emptyStats(), { ...base, pressure: Number.NaN })).toThrow(RangeError);
    expect(() => addReading(emptyStats(), { ...base, temperature: Infinity })).toThrow(RangeError);
  });
});

describe('exact range', () => {
  it('documents how many extreme readings a sum holds exactly', () => {
    expect(valueScale).toBe(10_000);
    expect(maxScaledMagnitude).toBe(1000 * 10_000);
    expect(maxExactReadings).toBe(900_719_925);
    expect(maxExactReadings * maxScaledMagnitude).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    expect((maxExactReadings + 1) * maxScaledMagnitude).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
  });

  it('stays exact for over a million readings at the bounds', () => {
    let stats = fold([{ ...base, temperature: -60, vibration: 100, pressure: 1000 }]);
    for (let i = 0; i < 20; i += 1) stats = mergeStats(stats, stats); // 2^20 readings
    const n = 2 ** 20;
    expect(n).toBeGreaterThan(1_000_000);
    expect(stats.readings).toBe(n);
    expect(stats.pressure).toStrictEqual({ count: n, min: 1000, max: 1000, sumScaled: n * 1e7 });
    expect(stats.temperature!.sumScaled).toBe(-n * 600_000);
    expect(Number.isSafeInteger(stats.pressure!.sumScaled)).toBe(true);
    expect(meanOf(stats.pressure!)).toBe(1000);
    expect(meanOf(stats.temperature!)).toBe(-60);
  });

  it('fails loudly rather than lose exactness', () => {
    const huge: WindowStats = {
      readings: 1,
      pressure: { count: 1, min: 1, max: 1, sumScaled: Number.MAX_SAFE_INTEGER },
    };
    expect(() => mergeStats(huge, huge)).toThrow(RangeError);
    expect(() => addReading(huge, { ...base, pressure: 1 })).toThrow(RangeError);
  });
});

describe('meanOf, meansOf, summarize', () => {
  const stats = fold([
    { ...base, temperature: 70, pressure: 11 },
    { ...base, temperature: 75.5 },
  ]);

  it('computes means from the exact sums', () => {
    expect(meanOf(stats.temperature!)).toBe(72.75);
    expect(meanOf({ count: 3, min: 0, max: 1, sumScaled: 10_000 })).toBe(1 / 3);
    expect(meansOf(stats)).toStrictEqual({ temperature: 72.75, pressure: 11 });
    expect(meansOf(emptyStats())).toStrictEqual({});
  });

  it('has no mean of nothing', () => {
    expect(() => meanOf({ count: 0, min: 0, max: 0, sumScaled: 0 })).toThrow(RangeError);
  });

  it('summarizes count, min, max and mean per metric present', () => {
    expect(summarize(stats)).toStrictEqual({
      readings: 2,
      metrics: {
        temperature: { count: 2, min: 70, max: 75.5, mean: 72.75 },
        pressure: { count: 1, min: 11, max: 11, mean: 11 },
      },
    });
    expect(summarize(emptyStats())).toStrictEqual({ readings: 0, metrics: {} });
  });
});

describe('windowStatsSchema', () => {
  it('reads stored stats back in canonical key order', () => {
    const stored = JSON.parse(
      '{"pressure":{"sumScaled":400000,"max":40,"min":40,"count":1},"readings":1,"id":"x"}',
    );
    const parsed = windowStatsSchema.parse(stored);
    expectIdentical(parsed, fold([{ ...base, pressure: 40 }]));
  });

  it.each([
    [{ readings: -1 }],
    [{ readings: 1.5 }],
    [{ readings: 1, temperature: { count: 1, min: 1, max: 1, sumScaled: 1.5 } }],
    [{ readings: 1, temperature: { count: 0, min: 1, max: 1, sumScaled: 1 } }],
    [{ readings: 1, temperature: { count: 1, min: 2, max: 1, sumScaled: 1 } }],
    [{ readings: 1, vibration: { count: 1, min: 1, max: 1 } }],
  ])('refuses %j', (value) => {
    expect(windowStatsSchema.safeParse(value).success).toBe(false);
  });
});

describe('merge laws (exact)', () => {
  const statsArb = fc.array(readingArb, { maxLength: 25 }).map((readings) => fold(readings));

  it('folding gives what the definition gives', () => {
    fc.assert(
      fc.property(fc.array(readingArb, { maxLength: 40 }), (readings) => {
        expectIdentical(fold(readings), reference(readings));
      }),
    );
  });

  it('is associative', () => {
    fc.assert(
      fc.property(statsArb, statsArb, statsArb, (a, b, c) => {
        expectIdentical(mergeStats(mergeStats(a, b), c), mergeStats(a, mergeStats(b, c)));
      }),
      { numRuns: 300 },
    );
  });

  it('is commutative', () => {
    fc.assert(
      fc.property(statsArb, statsArb, (a, b) => {
        expectIdentical(mergeStats(a, b), mergeStats(b, a));
      }),
      { numRuns: 300 },
    );
  });

  it('has emptyStats as identity on both sides', () => {
    fc.assert(
      fc.property(statsArb, (a) => {
        expectIdentical(mergeStats(a, emptyStats()), a);
        expectIdentical(mergeStats(emptyStats(), a), a);
      }),
      { numRuns: 300 },
    );
  });

  it('merging the folds of two parts equals folding the whole', () => {
    fc.assert(
      fc.property(
        fc.array(readingArb, { maxLength: 30 }),
        fc.array(readingArb, { maxLength: 30 }),
        (left, right) => {
          expectIdentical(mergeStats(fold(left), fold(right)), fold([...left, ...right]));
        },
      ),
    );
  });

  it('does not change its inputs', () => {
    fc.assert(
      fc.property(statsArb, statsArb, (a, b) => {
        const [copyA, copyB] = [structuredClone(a), structuredClone(b)];
        mergeStats(deepFreeze(a), deepFreeze(b));
        expect(a).toStrictEqual(copyA);
        expect(b).toStrictEqual(copyB);
      }),
    );
  });
});

describe('order independence', () => {
  it('folding any permutation gives byte-identical stats', () => {
    const withPermutation = fc
      .array(readingArb, { maxLength: 40 })
      .chain((readings) =>
        fc.tuple(
          fc.constant(readings),
          fc.shuffledSubarray(readings, { minLength: readings.length, maxLength: readings.length }),
        ),
      );
    fc.assert(
      fc.property(withPermutation, ([readings, permuted]) => {
        expectIdentical(fold(permuted), fold(readings));
      }),
      { numRuns: 300 },
    );
  });

  it('any batch split, merged in any order, gives the plain fold', () => {
    const scenario = fc
      .array(readingArb, { maxLength: 60 })
      .chain((readings) =>
        fc.tuple(
          fc.constant(readings),
          fc.array(fc.integer({ min: 0, max: readings.length }), { maxLength: 10 }),
          fc.func(fc.integer()),
        ),
      );
    fc.assert(
      fc.property(scenario, ([readings, cuts, order]) => {
        const bounds = [0, ...[...cuts].sort((x, y) => x - y), readings.length];
        const partials = bounds.slice(1).map((end, i) => fold(readings.slice(bounds[i], end)));
        const shuffled = partials
          .map((partial, i) => ({ partial, key: order(i) }))
          .sort((x, y) => x.key - y.key)
          .map((entry) => entry.partial);
        expectIdentical(shuffled.reduce(mergeStats, emptyStats()), fold(readings));
        // Merged as a tree, right to left, too.
        expectIdentical(
          shuffled.reduceRight((acc, partial) => mergeStats(partial, acc), emptyStats()),
          fold(readings),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('sums are the exact integers of the rounded values', () => {
    fc.assert(
      fc.property(fc.array(readingArb, { maxLength: 40 }), (readings) => {
        const stats = fold(readings);
        for (const metric of metricNames) {
          const metricStats = stats[metric];
          if (metricStats === undefined) continue;
          expect(Number.isSafeInteger(metricStats.sumScaled)).toBe(true);
          expect(metricStats.sumScaled).toBe(
            readings.reduce(
              (sum, r) => sum + (r[metric] === undefined ? 0 : toScaled(r[metric])),
              0,
            ),
          );
        }
      }),
    );
  });
});

describe('the in-place accumulators the fold uses', () => {
  const readingsArb = fc.array(readingArb, { minLength: 1, maxLength: 25 });

  it('accumulate readings exactly as addReading does, keys in canonical order', () => {
    fc.assert(
      fc.property(readingsArb, (readings) => {
        const [first, ...rest] = readings as [Reading, ...Reading[]];
        expectIdentical(statsOfReading(first), addReading(emptyStats(), first));
        let accumulated = statsOfReading(first);
        for (const reading of rest) accumulated = accumulateReading(accumulated, reading);
        expectIdentical(accumulated, fold(readings));
      }),
    );
  });

  it('merge exactly as mergeStats does, never changing what is merged in', () => {
    const statsArb = readingsArb.map((readings) => fold(readings));
    fc.assert(
      fc.property(fc.array(statsArb, { minLength: 1, maxLength: 8 }), (parts) => {
        const frozen = parts.map((part) => deepFreeze(structuredClone(part)));
        const [first, ...rest] = frozen as [WindowStats, ...WindowStats[]];
        let merged = copyStats(first);
        for (const part of rest) merged = accumulateStats(merged, part);
        expectIdentical(merged, frozen.reduce(mergeStats, emptyStats()));
      }),
    );
  });
});
