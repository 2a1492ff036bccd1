import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxTimestampMs, minTimestampMs } from '../../../lib/telemetry/reading.js';
import {
  parseWindowId,
  windowContains,
  windowEndOf,
  windowId,
  windowSizeMs,
  windowStartOf,
} from '../../../lib/telemetry/window.js';

const at = (iso: string) => Date.parse(iso);

describe('windowStartOf', () => {
  it('uses five-minute windows', () => {
    expect(windowSizeMs).toBe(5 * 60 * 1000);
  });

  it('puts a reading exactly on a boundary in the window that starts there', () => {
    expect(windowStartOf(at('2024-05-01T12:05:00.000Z'))).toBe(at('2024-05-01T12:05:00.000Z'));
  });

  it('puts a reading one millisecond before a boundary in the previous window', () => {
    expect(windowStartOf(at('2024-05-01T12:04:59.999Z'))).toBe(at('2024-05-01T12:00:00.000Z'));
  });

  it.each([
    ['2024-05-01T12:00:00.001Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T12:02:30.000Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T12:09:59.999Z', '2024-05-01T12:05:00.000Z'],
    ['2024-05-01T23:59:59.999Z', '2024-05-01T23:55:00.000Z'],
    ['2024-05-02T00:00:00.000Z', '2024-05-02T00:00:00.000Z'],
    ['2000-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z'],
  ])('%s is in the window starting %s', (reading, start) => {
    expect(windowStartOf(at(reading))).toBe(at(start));
  });

  it('aligns to the epoch, not to the hour of some zone or the first reading', () => {
    expect(windowStartOf(0)).toBe(0);
    expect(windowStartOf(windowSizeMs - 1)).toBe(0);
    expect(windowStartOf(minTimestampMs) % windowSizeMs).toBe(0);
  });

  it('refuses timestamps that are not whole epoch milliseconds', () => {
    for (const bad of [1.5, Number.NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => windowStartOf(bad)).toThrow(RangeError);
    }
  });
});

describe('windowEndOf, windowId, windowContains', () => {
  const start = at('2024-05-01T12:05:00.000Z');

  it('ends a window where the next one starts (exclusive)', () => {
    expect(windowEndOf(start)).toBe(at('2024-05-01T12:10:00.000Z'));
    expect(windowStartOf(windowEndOf(start))).toBe(windowEndOf(start));
  });

  it('names a window by its start in ISO 8601 UTC', () => {
    expect(windowId(start)).toBe('2024-05-01T12:05:00.000Z');
    expect(parseWindowId('2024-05-01T12:05:00.000Z')).toBe(start);
  });

  it('refuses a start that is not a window boundary', () => {
    expect(() => windowEndOf(start + 1)).toThrow(RangeError);
    expect(() => windowId(start - 60_000)).toThrow(RangeError);
    expect(() => windowContains(start + 1, start + 2)).toThrow(RangeError);
  });

  it.each([
    '2024-05-01T12:03:00.000Z',
    '2024-05-01T12:05:00Z',
    '2024-05-01T12:05:00.000+00:00',
    'x',
    '',
  ])('refuses %j as a window id', (id) => {
    expect(() => parseWindowId(id)).toThrow(RangeError);
  });

  it('contains [start, end)', () => {
    expect(windowContains(start, start)).toBe(true);
    expect(windowContains(start, start + windowSizeMs - 1)).toBe(true);
    expect(windowContains(start, start + windowSizeMs)).toBe(false);
    expect(windowContains(start, start - 1)).toBe(false);
  });
});

describe('window properties', () => {
  const instant = fc.integer({ min: minTimestampMs, max: maxTimestampMs - 1 });

  it('every instant lies in [start, end) of exactly its window, like floor(t / size) × size', () => {
    fc.assert(
      fc.property(instant, (ms) => {
        const start = windowStartOf(ms);
        expect(start).toBe(Math.floor(ms / windowSizeMs) * windowSizeMs);
        expect(start).toBeLessThanOrEqual(ms);
        expect(ms).toBeLessThan(windowEndOf(start));
        expect(windowContains(start, ms)).toBe(true);
        expect(windowStartOf(start)).toBe(start);
        expect(parseWindowId(windowId(start))).toBe(start);
      }),
    );
  });

  it('aligns every safe integer as floor modulo does', () => {
    // windowStartOf divides; the definition, at boundaries, just before them and at the ends
    // of the safe range, is the floor modulo.
    const near = (centre: number) =>
      fc.integer({ min: -600_000, max: 600_000 }).map((delta) => centre + delta);
    const anySafe = fc.oneof(
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
      near(0),
      near(Number.MAX_SAFE_INTEGER - 600_000),
      near(Number.MIN_SAFE_INTEGER + 600_000),
      fc.integer({ min: -(2 ** 32), max: 2 ** 32 }).map((k) => k * windowSizeMs),
      // A millisecond before a boundary, where a rounded-up quotient would show, up to the
      // largest boundaries.
      fc
        .tuple(
          fc.integer({ min: 1, max: Math.floor(Number.MAX_SAFE_INTEGER / windowSizeMs) }),
          fc.boolean(),
        )
        .map(([k, negative]) => (negative ? -k * windowSizeMs - 1 : k * windowSizeMs - 1)),
    );
    fc.assert(
      fc.property(anySafe, (ms) => {
        const offset = ((ms % windowSizeMs) + windowSizeMs) % windowSizeMs;
        expect(windowStartOf(ms)).toBe(ms - offset);
      }),
      { numRuns: 2000 },
    );
  });

  it('is monotonic and shifts with whole windows', () => {
    fc.assert(
      fc.property(instant, instant, fc.integer({ min: -1000, max: 1000 }), (a, b, k) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(windowStartOf(lo)).toBeLessThanOrEqual(windowStartOf(hi));
        expect(windowStartOf(a + k * windowSizeMs)).toBe(windowStartOf(a) + k * windowSizeMs);
      }),
    );
  });

  it('window ids sort like their starts', () => {
    fc.assert(
      fc.property(instant, instant, (a, b) => {
        const [ida, idb] = [windowId(windowStartOf(a)), windowId(windowStartOf(b))];
        expect(ida < idb).toBe(windowStartOf(a) < windowStartOf(b));
      }),
    );
  });
});
