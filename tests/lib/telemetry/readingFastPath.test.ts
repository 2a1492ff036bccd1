/**
 * The fast path of lib/telemetry/reading.ts (the hand scanner of bodies in the usual form and
 * the hand check of parsed objects) against the full validation, `readingSchema`: on every
 * generated input, valid or not, the fast path either gives up or yields exactly what the
 * schema yields (same value, same key order), and `parseEventBody` as a whole yields what the
 * full path alone would (readings, and rejections with their reasons and messages).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defaultFutureToleranceMs,
  fastReadingOf,
  maxReadingsPerEvent,
  maxTimestampMs,
  metricBounds,
  minTimestampMs,
  parseEventBody,
  readingSchema,
  scanUsualBody,
  type Reading,
} from '../../../lib/telemetry/reading.js';
import { enqueuedTimeMs, readingArb } from './arbitraries.js';

const tolerance = defaultFutureToleranceMs;

/** What the full path makes of one parsed reading: the schema, then the future check. */
function fullPath(value: unknown): { reading: Reading } | { rejected: string[] } {
  const result = readingSchema.safeParse(value);
  if (!result.success) {
    return {
      rejected: result.error.issues.map(
        (issue) =>
          `${issue.path.map((t) => `/${String(t).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}: ${issue.message}`,
      ),
    };
  }
  const ahead = result.data.timestamp - enqueuedTimeMs;
  return ahead > tolerance ? { rejected: [`future ${ahead}`] } : { reading: result.data };
}

/** Same value and the same key order (`toStrictEqual` ignores the order). */
function expectSameReading(actual: Reading, expected: Reading): void {
  expect(actual).toStrictEqual(expected);
  expect(Object.keys(actual)).toEqual(Object.keys(expected));
}

// ---------- generators of JSON text in and around the usual form ----------

const pad2 = (n: number) => String(n).padStart(2, '0');

/** ISO-like date-times: valid, impossible (Feb 30, 24:00), odd zones and separators. */
const isoText = fc
  .record({
    year: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(2000, 2020, 2023, 2024) },
      { weight: 1, arbitrary: fc.constantFrom(50, 1999, 2026, 2028, 2100, 2101, 9999) },
    ),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 60 }),
    second: fc.option(fc.integer({ min: 0, max: 61 })),
    // Three digits and `Z` often: the 24-character form toISOString writes, which the fast
    // path reads on a path of its own (out-of-range fields included).
    fraction: fc.option(
      fc.oneof(fc.stringMatching(/^[0-9]{3}$/), fc.stringMatching(/^[0-9]{0,10}$/)),
    ),
    separator: fc.constantFrom('T', 'T', 't', ' '),
    zone: fc.constantFrom('Z', 'Z', 'Z', 'z', '+02:00', '-00:30', '', 'ZZ', '+24:00'),
  })
  .map(
    ({ year, month, day, hour, minute, second, fraction, separator, zone }) =>
      `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}${separator}${pad2(hour)}:${pad2(minute)}` +
      (second === null ? '' : `:${pad2(second)}${fraction === null ? '' : `.${fraction}`}`) +
      zone,
  );

/** Timestamps near the current instant, in the usual form (they pass the future check). */
const usualIso = fc
  .integer({ min: enqueuedTimeMs - 3_600_000, max: enqueuedTimeMs + 2 * tolerance })
  .map((ms) => new Date(ms).toISOString());

/** The usual form with one character replaced by any other: a digit, a separator, anything. */
const alteredIso = fc
  .tuple(
    usualIso,
    fc.nat({ max: 23 }),
    fc.constantFrom('0', '1', '5', '6', '9', '-', 'T', ':', '.', 'Z', 'z', ' ', '/', '\u00e9'),
  )
  .map(([iso, at, character]) => `${iso.slice(0, at)}${character}${iso.slice(at + 1)}`);

/** JSON number text (sometimes not JSON at all): digits, fractions, exponents, signs. */
const numberText = fc.oneof(
  fc
    .record({
      negative: fc.boolean(),
      integer: fc.oneof(fc.constantFrom('0', '00', '01'), fc.stringMatching(/^[1-9][0-9]{0,17}$/)),
      fraction: fc.option(fc.stringMatching(/^[0-9]{0,20}$/)),
      exponent: fc.option(fc.stringMatching(/^[eE][+-]?[0-9]{1,3}$/), { freq: 5 }),
    })
    .map(
      ({ negative, integer, fraction, exponent }) =>
        `${negative ? '-' : ''}${integer}${fraction === null ? '' : `.${fraction}`}${exponent ?? ''}`,
    ),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)),
  fc.constantFrom('-', '.5', '1.', '-0', '0.00001', '1000.00001', '-60', '250', '100.0000'),
  // Within every metric's bounds, with as many digits as can be: where a hand conversion
  // could round differently from JSON.parse.
  fc
    .tuple(fc.integer({ min: -60, max: 999 }), fc.stringMatching(/^[0-9]{1,24}$/))
    .map(([integer, fraction]) => `${integer}.${fraction}`),
  fc.stringMatching(/^0\.0{0,3}[0-9]{1,20}5$/),
);

/** A metric's value text: mostly plausible numbers, sometimes null or another type. */
function metricText(metric: keyof typeof metricBounds): fc.Arbitrary<string> {
  const { min, max } = metricBounds[metric];
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc
        .double({ min: min - 1, max: max + 1, noNaN: true })
        .map((value) => JSON.stringify(Math.round(value * 100) / 100)),
    },
    { weight: 3, arbitrary: numberText },
    { weight: 1, arbitrary: fc.constantFrom('null', '"1"', 'true', '[]', '{}') },
  );
}

const textValues: Record<string, fc.Arbitrary<string>> = {
  equipmentId: fc.oneof(
    fc.constantFrom('eq-1', '42', 'EX.42:a_b-c', 'x'.repeat(64)).map((id) => JSON.stringify(id)),
    fc.constantFrom('', 'a b', 'x'.repeat(65), 'é', 'a/b').map((id) => JSON.stringify(id)),
    fc.constantFrom('"a\\u0062"', '"eq\\"1"', '42', 'null'),
  ),
  timestamp: fc.oneof(
    { weight: 4, arbitrary: usualIso.map((iso) => JSON.stringify(iso)) },
    { weight: 4, arbitrary: isoText.map((iso) => JSON.stringify(iso)) },
    { weight: 2, arbitrary: alteredIso.map((iso) => JSON.stringify(iso)) },
    {
      weight: 2,
      arbitrary: fc
        .integer({ min: minTimestampMs - 10, max: maxTimestampMs + 10 })
        .map((ms) => String(ms)),
    },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 5_000_000_000 }).map((s) => String(s)) },
    { weight: 1, arbitrary: numberText },
  ),
  temperature: metricText('temperature'),
  vibration: metricText('vibration'),
  pressure: metricText('pressure'),
  status: fc.string({ maxLength: 40 }).map((text) => JSON.stringify(text)),
  messageId: fc.string({ maxLength: 130 }).map((text) => JSON.stringify(text)),
  other: fc.constantFrom('1', '{"a":[1,2]}', '"x"', 'null'),
};

const space = fc.constantFrom('', '', '', ' ', '\n', '\t ');

/** A reading object's JSON text: known keys in any order, sometimes repeated or missing. */
const readingText = fc
  .array(
    fc
      .tuple(fc.constantFrom(...Object.keys(textValues)), space, space)
      .chain(([key, a, b]) =>
        (textValues[key] as fc.Arbitrary<string>).map(
          (value) => `${a}"${key}"${b}:${a}${value}${b}`,
        ),
      ),
    { maxLength: 7 },
  )
  .map((pairs) => `{${pairs.join(',')}}`);

/** The usual form: every key once, clean values (the fast path's common case). */
const usualReadingText = fc
  .record({
    equipmentId: fc.constantFrom('eq-1', '42', 'EX.42:a_b-c'),
    timestamp: fc.oneof(usualIso, isoText, alteredIso),
    temperature: fc.option(metricText('temperature'), { nil: undefined }),
    vibration: fc.option(metricText('vibration'), { nil: undefined }),
    pressure: fc.option(metricText('pressure'), { nil: undefined }),
  })
  .map(
    (fields) =>
      `{${Object.entries(fields)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) =>
          key === 'equipmentId' || key === 'timestamp'
            ? `"${key}":${JSON.stringify(value)}`
            : `"${key}":${String(value)}`,
        )
        .join(',')}}`,
  );

const bodyText = fc.oneof(
  readingText,
  usualReadingText,
  fc
    .array(fc.oneof(readingText, usualReadingText, usualReadingText), { maxLength: 6 })
    .chain((items) => space.map((s) => `${s}[${s}${items.join(`,${s}`)}${s}]${s}`)),
);

// ---------- the properties ----------

describe('the fast path of parseEventBody', () => {
  it('scans a body only when the full path accepts every reading in it, with equal readings', () => {
    fc.assert(
      fc.property(bodyText, (text) => {
        const scanned = scanUsualBody(text, enqueuedTimeMs, tolerance);
        if (scanned === undefined) return;
        const value: unknown = JSON.parse(text);
        const items: unknown[] = Array.isArray(value) ? value : [value];
        expect(items.length).toBeLessThanOrEqual(maxReadingsPerEvent);
        expect(scanned).toHaveLength(items.length);
        items.forEach((item, index) => {
          const full = fullPath(item);
          if (!('reading' in full)) throw new Error(`scanned, but ${full.rejected.join('; ')}`);
          expectSameReading(scanned[index] as Reading, full.reading);
        });
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts a parsed value only when the full path does, with an equal reading', () => {
    fc.assert(
      fc.property(bodyText, (text) => {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          return;
        }
        for (const item of Array.isArray(value) ? value : [value]) {
          const fast = fastReadingOf(item, enqueuedTimeMs, tolerance);
          if (fast === undefined) continue;
          const full = fullPath(item);
          if (!('reading' in full)) throw new Error(`accepted, but ${full.rejected.join('; ')}`);
          expectSameReading(fast, full.reading);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves parseEventBody yielding what the full path alone yields, valid or not', () => {
    fc.assert(
      fc.property(bodyText, (text) => {
        const { readings, rejections } = parseEventBody(text, { enqueuedTimeMs });
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          expect(readings).toEqual([]);
          expect(rejections.map((r) => r.reason)).toEqual(['malformed']);
          return;
        }
        const items: unknown[] = Array.isArray(value) ? value : [value];
        const expected = items.map(fullPath);
        expect(readings).toStrictEqual(
          expected.flatMap((o) => ('reading' in o ? [o.reading] : [])),
        );
        expect(
          rejections.map((r) =>
            r.reason === 'future'
              ? [`future ${r.issues[0]?.message.split(' ')[1] ?? ''}`]
              : r.issues.map((issue) => `${issue.path}: ${issue.message}`),
          ),
        ).toEqual(expected.flatMap((o) => ('rejected' in o ? [o.rejected] : [])));
        expect(rejections.map((r) => r.index)).toEqual(
          expected.flatMap((o, index) =>
            'rejected' in o ? [Array.isArray(value) ? index : null] : [],
          ),
        );
      }),
      { numRuns: 3000 },
    );
  });

  it('takes valid readings in the usual form, as text and as parsed values', () => {
    // Not vacuous: what devices send goes the fast way (readings stamped in the hour before).
    fc.assert(
      fc.property(fc.array(readingArb, { minLength: 1, maxLength: 20 }), (readings) => {
        const usual = readings.map((r) => ({
          ...r,
          timestamp: new Date(r.timestamp).toISOString(),
        }));
        const text = JSON.stringify(usual);
        expect(scanUsualBody(text, enqueuedTimeMs, tolerance)).toStrictEqual(readings);
        expect(scanUsualBody(JSON.stringify(usual[0]), enqueuedTimeMs, tolerance)).toStrictEqual([
          readings[0],
        ]);
        usual.forEach((item, index) => {
          expect(fastReadingOf(item, enqueuedTimeMs, tolerance)).toStrictEqual(readings[index]);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('reads every accepted instant of the usual ISO form as the instant it names', () => {
    // The fast path computes the date by arithmetic, not Date.UTC: held to Date over the whole
    // accepted range (leap days, centuries, both ends), not only the hour before enqueuing.
    const instant = fc.oneof(
      fc.integer({ min: minTimestampMs, max: enqueuedTimeMs + tolerance }),
      fc.constantFrom(minTimestampMs, Date.UTC(2000, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1)),
    );
    fc.assert(
      fc.property(instant, (ms) => {
        const iso = new Date(ms).toISOString();
        const text = `{"equipmentId":"eq-1","timestamp":"${iso}","temperature":1}`;
        expect(scanUsualBody(text, enqueuedTimeMs, tolerance)?.[0]?.timestamp).toBe(ms);
        expect(
          fastReadingOf(
            { equipmentId: 'eq-1', timestamp: iso, temperature: 1 },
            enqueuedTimeMs,
            tolerance,
          )?.timestamp,
        ).toBe(ms);
      }),
      { numRuns: 3000 },
    );
  });

  it("judges the toISOString form as the full path does, at and past every field's bounds", () => {
    // The fast path reads this 24-character form straight-line (reading.ts canonicalIsoUtc):
    // every field at, just inside and just past its bounds, and any character in any place.
    const field = (min: number, max: number) =>
      fc.oneof(fc.integer({ min, max }), fc.constantFrom(min - 1, min, max, max + 1));
    const canonical = fc.oneof(
      fc
        .tuple(
          fc.constantFrom(1999, 2000, 2024, 2025, 2100, 2101),
          field(1, 12),
          field(1, 31),
          field(0, 23),
          field(0, 59),
          field(0, 59),
          fc.integer({ min: 0, max: 999 }),
        )
        .map(
          ([year, month, day, hour, minute, second, ms]) =>
            `${year}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(minute)}:${pad2(second)}.${String(ms).padStart(3, '0')}Z`,
        ),
      alteredIso,
    );
    fc.assert(
      fc.property(canonical, (iso) => {
        const text = `{"equipmentId":"eq-1","timestamp":"${iso}","temperature":1}`;
        const full = fullPath({ equipmentId: 'eq-1', timestamp: iso, temperature: 1 });
        const scanned = scanUsualBody(text, enqueuedTimeMs, tolerance);
        if ('reading' in full) {
          expect(scanned?.[0]?.timestamp ?? full.reading.timestamp).toBe(full.reading.timestamp);
        } else expect(scanned).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves odd but valid forms to the full path, which accepts them', () => {
    const odd = [
      '{"equipmentId":"eq-1","timestamp":"2024-05-01T13:58:00+02:00","temperature":71.5}',
      '{"equipmentId":"eq-1","timestamp":"2024-05-01T11:58:00Z","temperature":7.15e1}',
      '{"equipmentId":"eq-1","timestamp":"2024-05-01T11:58:00Z","temperature":71.5,"status":"ok"}',
      '{"equipmentId":"eq\\u002d1","timestamp":"2024-05-01T11:58:00Z","temperature":71.5}',
      '{"equipmentId":"eq-1","timestamp":"2024-05-01T11:58:00Z","temperature":1,"temperature":71.5}',
    ];
    for (const text of odd) {
      expect(scanUsualBody(text, enqueuedTimeMs, tolerance), text).toBeUndefined();
      expect(parseEventBody(text, { enqueuedTimeMs }).readings, text).toStrictEqual([
        {
          equipmentId: 'eq-1',
          timestamp: Date.parse('2024-05-01T11:58:00Z'),
          temperature: 71.5,
          ...(text.includes('status') ? { status: 'ok' } : {}),
        },
      ]);
    }
  });
});
