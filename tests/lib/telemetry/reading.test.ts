import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defaultFutureToleranceMs,
  equipmentIdPattern,
  maxRawBytes,
  maxReadingsPerEvent,
  maxTimestampMs,
  metricBounds,
  metricNames,
  minTimestampMs,
  parseEventBody,
  readingSchema,
  rejectionReasons,
  roundValue,
  toScaled,
  type Reading,
  type Rejection,
} from '../../../lib/telemetry/reading.js';
import { enqueuedTimeMs, readingArb } from './arbitraries.js';

const options = { enqueuedTimeMs };
const at = (iso: string) => Date.parse(iso);
const good = { equipmentId: 'eq-1', timestamp: '2024-05-01T11:58:00Z', temperature: 71.5 };
const goodReading: Reading = {
  equipmentId: 'eq-1',
  timestamp: at('2024-05-01T11:58:00Z'),
  temperature: 71.5,
};

function parse(body: unknown, extra: { futureToleranceMs?: number } = {}) {
  return parseEventBody(body, { ...options, ...extra });
}

/** The single rejection of a body, failing the test when there is not exactly one. */
function onlyRejection(body: unknown): Rejection {
  const { readings, rejections } = parse(body);
  expect(readings).toEqual([]);
  expect(rejections).toHaveLength(1);
  return rejections[0]!;
}

/** Issues of a value the schema must refuse. */
function schemaIssues(value: unknown): { path: string; message: string }[] {
  const rejection = onlyRejection(value);
  expect(rejection.reason).toBe('invalid');
  return rejection.issues;
}

/** Epoch ms of a timestamp the schema must accept. */
function timestampOf(timestamp: unknown): number {
  return readingSchema.parse({ equipmentId: 'eq-1', timestamp, vibration: 1 }).timestamp;
}

function timestampIssue(timestamp: unknown): string {
  const result = readingSchema.safeParse({ equipmentId: 'eq-1', timestamp, vibration: 1 });
  expect(result.success).toBe(false);
  const issues = result.error!.issues;
  expect(issues).toHaveLength(1);
  expect(issues[0]!.path).toEqual(['timestamp']);
  return issues[0]!.message;
}

const utf8Length = (text: string) => new TextEncoder().encode(text).length;

describe('constants', () => {
  it('documents the bounds, units and limits the issue asks for', () => {
    expect(metricNames).toEqual(['temperature', 'vibration', 'pressure']);
    expect(metricBounds).toEqual({
      temperature: { min: -60, max: 250, unit: '°C' },
      vibration: { min: 0, max: 100, unit: 'mm/s' },
      pressure: { min: 0, max: 1000, unit: 'psi' },
    });
    expect(maxReadingsPerEvent).toBe(500);
    expect(maxRawBytes).toBe(4096);
    expect(defaultFutureToleranceMs).toBe(300_000);
    expect(minTimestampMs).toBe(at('2000-01-01T00:00:00Z'));
    expect(maxTimestampMs).toBe(at('2101-01-01T00:00:00Z'));
  });

  it('equipmentIdPattern takes 1 to 64 of [A-Za-z0-9._:-]', () => {
    expect(equipmentIdPattern.test('a')).toBe(true);
    expect(equipmentIdPattern.test('Az09._:-'.padEnd(64, 'x'))).toBe(true);
    expect(equipmentIdPattern.test('x'.repeat(65))).toBe(false);
    expect(equipmentIdPattern.test('')).toBe(false);
    for (const bad of ['a b', 'a/b', 'a#b', 'a?b', 'a\\b', 'é']) {
      expect(equipmentIdPattern.test(bad)).toBe(false);
    }
  });

  it('rounds to 4 decimals and never yields -0', () => {
    expect(roundValue(75.123456)).toBe(75.1235);
    expect(roundValue(75.12344)).toBe(75.1234);
    expect(toScaled(75.1235)).toBe(751235);
    expect(Object.is(roundValue(-0.00001), 0)).toBe(true);
    expect(Object.is(toScaled(-0), 0)).toBe(true);
  });
});

describe('parseEventBody: body forms', () => {
  const json = JSON.stringify(good);
  const bytes = new TextEncoder().encode(json);

  it.each([
    ['a JSON string', json],
    ['a Buffer', Buffer.from(json)],
    ['a Uint8Array', bytes],
    ['an ArrayBuffer', bytes.slice().buffer],
    ['a view into a larger buffer', new Uint8Array([0x20, ...bytes, 0x20]).subarray(1, -1)],
    ['a parsed object', { ...good }],
    ['a JSON-serialised Buffer', JSON.parse(JSON.stringify(Buffer.from(json)))],
    ['text with a UTF-8 byte order mark', `\uFEFF${json}`],
    ['bytes with a UTF-8 byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes])],
  ])('accepts %s', (_name, body) => {
    expect(parse(body)).toEqual({ readings: [goodReading], rejections: [] });
  });

  it('accepts arrays as text, bytes and parsed values alike', () => {
    const array = [good, { ...good, equipmentId: 'eq-2' }];
    const expected = [goodReading, { ...goodReading, equipmentId: 'eq-2' }];
    for (const body of [JSON.stringify(array), Buffer.from(JSON.stringify(array)), array]) {
      expect(parse(body)).toEqual({ readings: expected, rejections: [] });
    }
  });

  it('ignores unknown fields and emits exactly the Reading keys in a fixed order', () => {
    const { readings } = parse({
      messageId: 'm-1',
      status: 'running',
      pressure: 40,
      extra: { nested: true },
      vibration: 2.5,
      temperature: 70,
      timestamp: 1714564680000,
      equipmentId: 'eq-9',
      firmware: '1.2.3',
    });
    expect(readings).toHaveLength(1);
    expect(Object.keys(readings[0]!)).toEqual([
      'equipmentId',
      'timestamp',
      'temperature',
      'vibration',
      'pressure',
      'status',
      'messageId',
    ]);
  });

  it('treats null metrics, status and messageId as absent', () => {
    const { readings } = parse({ ...good, vibration: null, status: null, messageId: null });
    expect(readings).toEqual([goodReading]);
    expect(Object.keys(readings[0]!)).toEqual(['equipmentId', 'timestamp', 'temperature']);
  });

  it('rounds metric values to 4 decimals', () => {
    const { readings } = parse({ ...good, temperature: 75.123456, pressure: 0.00004 });
    expect(readings[0]).toEqual({ ...goodReading, temperature: 75.1235, pressure: 0 });
    expect(Object.is(readings[0]!.pressure, 0)).toBe(true);
  });

  it('keeps the whole body text as raw for a single reading', () => {
    const text = `  { "equipmentId": "eq-1", "timestamp": "2024-05-01T11:58:00Z" }  `;
    const rejection = onlyRejection(text);
    expect(rejection).toMatchObject({ reason: 'invalid', raw: text, rawTruncated: false });
    expect(rejection.index).toBeNull();
  });
});

describe('parseEventBody: malformed', () => {
  it.each([
    ['broken JSON', '{"equipmentId": "eq-1",'],
    ['only whitespace', '  \n'],
    ['plain text', 'temperature=75'],
    ['two JSON values', '{} {}'],
  ])('rejects %s', (_name, body) => {
    const rejection = onlyRejection(body);
    expect(rejection.reason).toBe('malformed');
    expect(rejection.index).toBeNull();
    expect(rejection.raw).toBe(body);
    expect(rejection.issues).toHaveLength(1);
    expect(rejection.issues[0]!.path).toBe('');
    expect(rejection.issues[0]!.message).toMatch(/^The body is not valid JSON: /);
  });

  // With the trigger's `dataType: 'binary'` an event without a body is an empty Buffer.
  it.each([
    ['an empty string', ''],
    ['an empty Buffer', Buffer.alloc(0)],
    ['an empty Uint8Array', new Uint8Array(0)],
  ])('rejects %s as an empty body', (_name, body) => {
    const rejection = onlyRejection(body);
    expect(rejection).toEqual({
      reason: 'malformed',
      issues: [{ path: '', message: 'The event has an empty body' }],
      raw: '',
      rawTruncated: false,
      index: null,
    });
  });

  it.each([
    ['a stray continuation byte', [0x7b, 0x80, 0x7d]],
    ['an invalid lead byte', [0xff]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['a truncated 3-byte sequence', [0x22, 0xe2, 0x82, 0x22]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
  ])('rejects bytes with %s as malformed UTF-8', (_name, bytes) => {
    const rejection = onlyRejection(Uint8Array.from(bytes));
    expect(rejection).toMatchObject({
      reason: 'malformed',
      issues: [{ path: '', message: 'The body is not valid UTF-8' }],
      index: null,
      rawTruncated: false,
    });
    expect(rejection.raw).toContain('\uFFFD');
  });

  it('bounds the raw payload of a huge malformed body', () => {
    const body = `[${'x'.repeat(100_000)}`;
    const rejection = onlyRejection(body);
    expect(rejection.reason).toBe('malformed');
    expect(rejection.rawTruncated).toBe(true);
    expect(rejection.raw).toBe(body.slice(0, maxRawBytes));
    // Engine messages may quote input; they stay short.
    expect(rejection.issues[0]!.message.length).toBeLessThanOrEqual(250);
  });
});

describe('parseEventBody: invalid readings', () => {
  it('rejects values that are not reading objects at the root path', () => {
    for (const body of ['42', '"text"', 'null', 'true', '[[]]']) {
      const { rejections } = parse(body);
      expect(rejections).toHaveLength(1);
      expect(rejections[0]).toMatchObject({
        reason: 'invalid',
        issues: [{ path: '' }],
      });
    }
  });

  it('requires equipmentId and timestamp', () => {
    expect(schemaIssues({ temperature: 70 })).toEqual([
      { path: '/equipmentId', message: 'Required' },
      { path: '/timestamp', message: 'Required' },
    ]);
  });

  it('requires at least one metric', () => {
    expect(schemaIssues({ equipmentId: 'eq-1', timestamp: good.timestamp, status: 'ok' })).toEqual([
      { path: '', message: 'Expected at least one of temperature, vibration or pressure' },
    ]);
    expect(
      schemaIssues({ equipmentId: 'eq-1', timestamp: good.timestamp, temperature: null }),
    ).toHaveLength(1);
  });

  it.each<[unknown, string]>([
    ['', 'empty'],
    ['x'.repeat(65), 'too long'],
    ['eq 1', 'with a space'],
    ['eq/1', 'with a slash'],
    [42, 'a number'],
  ])('rejects equipmentId %j (%s)', (equipmentId) => {
    const issues = schemaIssues({ ...good, equipmentId });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('/equipmentId');
  });

  it('accepts every metric exactly at its bounds', () => {
    for (const metric of metricNames) {
      const { min, max } = metricBounds[metric];
      for (const value of [min, max]) {
        const { readings } = parse({
          equipmentId: 'eq-1',
          timestamp: good.timestamp,
          [metric]: value,
        });
        expect(readings[0]?.[metric]).toBe(value);
      }
    }
  });

  it('rejects every metric just outside its bounds, naming metric, range and value', () => {
    for (const metric of metricNames) {
      const { min, max, unit } = metricBounds[metric];
      for (const value of [min - 0.0001, max + 0.0001, -1e308, 1e308]) {
        const issues = schemaIssues({
          equipmentId: 'eq-1',
          timestamp: good.timestamp,
          [metric]: value,
        });
        expect(issues).toEqual([
          {
            path: `/${metric}`,
            message: `Expected ${metric} from ${min} to ${max} ${unit}, got ${value}`,
          },
        ]);
      }
    }
  });

  it('rejects non-finite and non-numeric metrics (possible when the host hands over objects)', () => {
    for (const value of [Number.NaN, Infinity, -Infinity, '75', true, [75], { value: 75 }]) {
      const issues = schemaIssues({ ...good, temperature: value });
      expect(issues).toEqual([
        { path: '/temperature', message: 'Expected temperature as a finite number in °C' },
      ]);
    }
  });

  it('bounds status and messageId', () => {
    expect(parse({ ...good, status: 's'.repeat(32), messageId: 'm'.repeat(128) }).readings).toEqual(
      [{ ...goodReading, status: 's'.repeat(32), messageId: 'm'.repeat(128) }],
    );
    expect(schemaIssues({ ...good, status: 's'.repeat(33) })).toEqual([
      { path: '/status', message: 'Expected at most 32 characters' },
    ]);
    expect(schemaIssues({ ...good, messageId: 'm'.repeat(129) })).toEqual([
      { path: '/messageId', message: 'Expected at most 128 characters' },
    ]);
    expect(schemaIssues({ ...good, status: 3 })).toEqual([
      { path: '/status', message: 'Expected a string' },
    ]);
  });

  it('reports every problem of a reading at once', () => {
    const paths = schemaIssues({
      equipmentId: 'bad id',
      timestamp: '2024-05-01T12:00:00',
      temperature: 300,
      vibration: 'high',
      status: 's'.repeat(40),
    }).map((issue) => issue.path);
    expect(paths).toEqual(['/equipmentId', '/timestamp', '/temperature', '/vibration', '/status']);
  });

  it('bounds raw at maxRawBytes without splitting a character', () => {
    // '€' is 3 bytes in UTF-8, so some cut must fall inside one: try every alignment.
    for (let pad = 0; pad < 3; pad += 1) {
      const element = { ...good, temperature: 999, note: `${'a'.repeat(pad)}${'€'.repeat(3000)}` };
      const { rejections } = parse([element]);
      const { raw, rawTruncated } = rejections[0]!;
      expect(rawTruncated).toBe(true);
      expect(utf8Length(raw)).toBeLessThanOrEqual(maxRawBytes);
      expect(utf8Length(raw)).toBeGreaterThan(maxRawBytes - 3);
      expect(raw).not.toContain('\uFFFD');
      expect(JSON.stringify(element).startsWith(raw)).toBe(true);
    }
  });

  it('keeps a raw payload of exactly maxRawBytes whole', () => {
    const element = { ...good, temperature: 999, note: '' };
    const padding = maxRawBytes - utf8Length(JSON.stringify(element));
    const exact = { ...element, note: 'n'.repeat(padding) };
    const { rejections } = parse([exact]);
    expect(rejections[0]!.raw).toBe(JSON.stringify(exact));
    expect(rejections[0]!.rawTruncated).toBe(false);
    const over = { ...element, note: 'n'.repeat(padding + 1) };
    expect(parse([over]).rejections[0]!.rawTruncated).toBe(true);
  });
});

describe('timestamps', () => {
  it.each([
    ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01t12:00:00z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T12:00Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T14:00:00+02:00', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T06:30:00-05:30', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T12:00:00-00:00', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T12:00:00.5Z', '2024-05-01T12:00:00.500Z'],
    ['2024-05-01T12:00:00.123Z', '2024-05-01T12:00:00.123Z'],
    // Sub-millisecond digits are cut, not rounded, so the reading stays in its window.
    ['2024-05-01T12:04:59.999999999Z', '2024-05-01T12:04:59.999Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['2000-01-01T00:00:00Z', '2000-01-01T00:00:00.000Z'],
    ['2000-01-01T01:00:00+01:00', '2000-01-01T00:00:00.000Z'],
    ['2100-12-31T23:59:59.999Z', '2100-12-31T23:59:59.999Z'],
  ])('reads %s as %s', (input, expected) => {
    expect(timestampOf(input)).toBe(Date.parse(expected));
  });

  it('takes epoch milliseconds as they are', () => {
    expect(timestampOf(1714564800000)).toBe(1714564800000);
    expect(timestampOf(minTimestampMs)).toBe(minTimestampMs);
    expect(timestampOf(maxTimestampMs - 1)).toBe(maxTimestampMs - 1);
  });

  it.each([
    ['2024-05-01T12:00:00', 'Expected a time zone (Z or ±hh:mm) on the date-time'],
    ['2024-05-01T12:00:00.123', 'Expected a time zone (Z or ±hh:mm) on the date-time'],
    ['2024-05-01', 'Expected an ISO 8601 date-time with a time zone, e.g. 2024-05-01T12:00:00Z'],
    [
      '2024-05-01 12:00:00Z',
      'Expected an ISO 8601 date-time with a time zone, e.g. 2024-05-01T12:00:00Z',
    ],
    [
      '2024-05-01T12:00:00+0200',
      'Expected an ISO 8601 date-time with a time zone, e.g. 2024-05-01T12:00:00Z',
    ],
    [
      'May 1, 2024 12:00 UTC',
      'Expected an ISO 8601 date-time with a time zone, e.g. 2024-05-01T12:00:00Z',
    ],
    ['1714564800000', 'Expected an ISO 8601 date-time with a time zone, e.g. 2024-05-01T12:00:00Z'],
    ['2023-02-29T00:00:00Z', 'Expected a calendar date that exists'],
    ['2024-04-31T00:00:00Z', 'Expected a calendar date that exists'],
    ['2024-13-01T00:00:00Z', 'Expected a calendar date that exists'],
    ['2024-05-01T24:00:00Z', 'Expected a valid time of day and zone offset'],
    ['2024-05-01T12:00:60Z', 'Expected a valid time of day and zone offset'],
    ['2024-05-01T12:00:00+24:00', 'Expected a valid time of day and zone offset'],
    ['1999-12-31T23:59:59.999Z', 'Expected a time from 2000-01-01 through 2100 (UTC)'],
    ['2000-01-01T00:30:00+01:00', 'Expected a time from 2000-01-01 through 2100 (UTC)'],
    ['2101-01-01T00:00:00Z', 'Expected a time from 2000-01-01 through 2100 (UTC)'],
    ['1970-01-01T00:00:00Z', 'Expected a time from 2000-01-01 through 2100 (UTC)'],
  ])('rejects %s', (input, message) => {
    expect(timestampIssue(input)).toBe(message);
  });

  it('rejects epoch numbers that are fractional, out of range or look like seconds', () => {
    expect(timestampIssue(1714564800000.5)).toBe('Expected whole epoch ms');
    expect(timestampIssue(minTimestampMs - 1)).toBe(
      'Expected a time from 2000-01-01 through 2100 (UTC)',
    );
    expect(timestampIssue(maxTimestampMs)).toBe(
      'Expected a time from 2000-01-01 through 2100 (UTC)',
    );
    expect(timestampIssue(0)).toBe('Expected a time from 2000-01-01 through 2100 (UTC)');
    expect(timestampIssue(1714564800)).toMatch(/looks like epoch seconds, send milliseconds$/);
  });

  it('rejects timestamps of other types', () => {
    for (const value of [true, null, { ms: 1 }, [1714564800000]]) {
      expect(timestampIssue(value)).toBe(
        'Expected an ISO 8601 date-time with a time zone, or epoch milliseconds',
      );
    }
  });
});

describe('parseEventBody: arrays', () => {
  it('judges each element alone, keeping order and indexes', () => {
    const body = [
      good,
      { ...good, temperature: 999 },
      null,
      { ...good, equipmentId: 'eq-3' },
      'junk',
      { ...good, timestamp: '2024-05-01T12:05:00.001Z' },
      { ...good, equipmentId: 'eq-4', vibration: 3 },
    ];
    const { readings, rejections } = parse(JSON.stringify(body));
    expect(readings).toEqual([
      goodReading,
      { ...goodReading, equipmentId: 'eq-3' },
      { ...goodReading, equipmentId: 'eq-4', vibration: 3 },
    ]);
    expect(rejections.map((r) => [r.index, r.reason])).toEqual([
      [1, 'invalid'],
      [2, 'invalid'],
      [4, 'invalid'],
      [5, 'future'],
    ]);
    expect(rejections[0]!.raw).toBe(JSON.stringify(body[1]));
    expect(rejections[1]!.raw).toBe('null');
    expect(rejections[2]!.raw).toBe('"junk"');
  });

  it('yields nothing for an empty array', () => {
    expect(parse('[]')).toEqual({ readings: [], rejections: [] });
  });

  it(`accepts ${maxReadingsPerEvent} readings and rejects ${maxReadingsPerEvent + 1} as one too-many`, () => {
    const full = Array.from({ length: maxReadingsPerEvent }, () => good);
    expect(parse(full).readings).toHaveLength(maxReadingsPerEvent);

    const text = JSON.stringify([...full, good]);
    const { readings, rejections } = parse(text);
    expect(readings).toEqual([]);
    expect(rejections).toEqual([
      {
        reason: 'too-many',
        issues: [
          {
            path: '',
            message: `The event holds 501 readings; at most ${maxReadingsPerEvent} are accepted per event`,
          },
        ],
        raw: text.slice(0, maxRawBytes),
        rawTruncated: true,
        index: null,
      },
    ]);
  });
});

describe('parseEventBody: future readings', () => {
  const stamped = (ms: number | string) => ({ ...good, timestamp: ms });

  it('accepts a reading exactly at the tolerance and rejects one 1 ms beyond it', () => {
    const edge = enqueuedTimeMs + defaultFutureToleranceMs;
    expect(parse(stamped(edge)).readings).toHaveLength(1);
    expect(parse(stamped(new Date(edge).toISOString())).readings).toHaveLength(1);

    const rejection = onlyRejection(stamped(edge + 1));
    expect(rejection).toEqual({
      reason: 'future',
      issues: [
        {
          path: '/timestamp',
          message: 'Stamped 300001 ms after the event was enqueued; at most 300000 ms is allowed',
        },
      ],
      raw: JSON.stringify(stamped(edge + 1)),
      rawTruncated: false,
      index: null,
    });
  });

  it('honours a custom tolerance', () => {
    expect(parse(stamped(enqueuedTimeMs), { futureToleranceMs: 0 }).readings).toHaveLength(1);
    expect(parse(stamped(enqueuedTimeMs + 1), { futureToleranceMs: 0 }).rejections[0]?.reason).toBe(
      'future',
    );
  });

  it('accepts readings from long before the event (lateness is not its concern)', () => {
    expect(parse(stamped(minTimestampMs)).readings).toHaveLength(1);
  });

  it('reports schema problems, not future, for an invalid reading stamped in the future', () => {
    const rejection = onlyRejection({ ...stamped(enqueuedTimeMs + 3_600_000), temperature: 999 });
    expect(rejection.reason).toBe('invalid');
  });

  it('refuses options that would disable the check', () => {
    expect(() => parseEventBody(good, { enqueuedTimeMs: Number.NaN })).toThrow(RangeError);
    expect(() => parseEventBody(good, { enqueuedTimeMs, futureToleranceMs: -1 })).toThrow(
      RangeError,
    );
  });
});

describe('parseEventBody: properties', () => {
  /** Everything a caller relies on, for any body whatsoever. */
  function checkInvariants(body: unknown): void {
    const { readings, rejections } = parse(body);
    for (const reading of readings) {
      // Output is a fixed point of the schema: valid, rounded, in canonical form.
      expect(readingSchema.parse(reading)).toStrictEqual(reading);
      expect(reading.timestamp).toBeLessThanOrEqual(enqueuedTimeMs + defaultFutureToleranceMs);
    }
    for (const rejection of rejections) {
      expect(rejectionReasons).toContain(rejection.reason);
      expect(rejection.issues.length).toBeGreaterThan(0);
      expect(utf8Length(rejection.raw)).toBeLessThanOrEqual(maxRawBytes);
      expect(typeof rejection.rawTruncated).toBe('boolean');
      // The catch-all for values no JSON parser produces must not be what handled these.
      for (const issue of rejection.issues)
        expect(issue.message).not.toMatch(/^Could not validate/);
      if (rejection.index !== null) {
        expect(Number.isInteger(rejection.index)).toBe(true);
        expect(rejection.index).toBeGreaterThanOrEqual(0);
        expect(rejection.index).toBeLessThan(maxReadingsPerEvent);
      }
    }
  }

  it('never throws for any value', () => {
    fc.assert(
      fc.property(
        fc.anything({
          withBigInt: true,
          withBoxedValues: true,
          withDate: true,
          withMap: true,
          withSet: true,
          withNullPrototype: true,
          withObjectString: true,
          withSparseArray: true,
          withTypedArray: true,
          stringUnit: 'binary',
        }),
        (body) => {
          checkInvariants(body);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws for any string or byte sequence', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary' }),
          fc.string({ unit: 'grapheme' }),
          fc.uint8Array({ maxLength: 200 }),
          fc.json(),
          fc.json().map((text) => Buffer.from(text)),
        ),
        (body) => {
          checkInvariants(body);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws for near-miss readings, and accounts for every array element once', () => {
    const nearMiss = fc.record(
      {
        equipmentId: fc.oneof(fc.constantFrom('eq-1', '', 'a b'), fc.string(), fc.integer()),
        timestamp: fc.oneof(
          fc.integer({ min: minTimestampMs - 10, max: maxTimestampMs + 10 }),
          fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
          fc.string(),
          fc.double(),
        ),
        temperature: fc.oneof(fc.double(), fc.constant(null), fc.string()),
        vibration: fc.oneof(fc.double({ min: -1, max: 101 }), fc.constant(null)),
        pressure: fc.jsonValue(),
        status: fc.oneof(fc.string({ maxLength: 40 }), fc.integer()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(nearMiss, fc.jsonValue()), { maxLength: 20 }), (items) => {
        checkInvariants(items);
        const { readings, rejections } = parse(JSON.stringify(items));
        expect(readings.length + rejections.length).toBe(items.length);
        const indexes = rejections.map((r) => r.index);
        expect(indexes).toEqual([...new Set(indexes)].sort((a, b) => a! - b!));
        const rejectedAt = new Map(rejections.map((r) => [r.index, r.reason]));
        items.forEach((item, index) => {
          const valid = readingSchema.safeParse(item).success;
          const reason = rejectedAt.get(index);
          // Valid elements are either accepted or in the future; invalid ones are 'invalid'.
          if (valid) expect([undefined, 'future']).toContain(reason);
          else expect(reason).toBe('invalid');
        });
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips valid readings through text, bytes and parsed values', () => {
    fc.assert(
      fc.property(fc.array(readingArb, { maxLength: 30 }), (readings) => {
        const text = JSON.stringify(readings);
        for (const body of [text, new TextEncoder().encode(text), JSON.parse(text)]) {
          expect(parse(body)).toStrictEqual({ readings, rejections: [] });
        }
      }),
    );
  });

  it('a bad element never changes what its neighbours yield', () => {
    const garbage = fc.jsonValue().filter((value) => !readingSchema.safeParse(value).success);
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            readingArb.map((r) => ({ ok: true, value: r }) as const),
            garbage.map((g) => ({ ok: false, value: g }) as const),
          ),
          {
            maxLength: 40,
          },
        ),
        (items) => {
          const { readings, rejections } = parse(items.map((item) => item.value));
          expect(readings).toStrictEqual(items.filter((i) => i.ok).map((i) => i.value));
          expect(rejections.map((r) => r.index)).toEqual(
            items.flatMap((item, index) => (item.ok ? [] : [index])),
          );
        },
      ),
    );
  });

  it('reads any in-range instant written in any zone offset back to the same epoch ms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: minTimestampMs + 86_400_000, max: maxTimestampMs - 86_400_000 - 1 }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        (ms, offsetMinutes) => {
          const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
          const abs = Math.abs(offsetMinutes);
          const zone = `${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          expect(timestampOf(`${local}${zone}`)).toBe(ms);
        },
      ),
    );
  });

  it('accepts any finite in-bounds metric value and rounds it to 4 decimals', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...metricNames).chain((metric) =>
          fc.tuple(
            fc.constant(metric),
            fc.double({
              min: metricBounds[metric].min,
              max: metricBounds[metric].max,
              noNaN: true,
            }),
          ),
        ),
        ([metric, value]) => {
          const reading = readingSchema.parse({
            equipmentId: 'eq-1',
            timestamp: minTimestampMs,
            [metric]: value,
          });
          const rounded = reading[metric]!;
          expect(Math.abs(rounded - value)).toBeLessThanOrEqual(0.00005 + 1e-9);
          expect(Number.isInteger(toScaled(rounded))).toBe(true);
          expect(toScaled(rounded) / 10_000).toBe(rounded);
          expect(Object.is(rounded, -0)).toBe(false);
        },
      ),
    );
  });
});
