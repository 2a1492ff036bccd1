/**
 * What a device sends and how an Event Hubs event body becomes validated readings.
 *
 * Pure: depends on nothing but zod, never touches the clock (the caller passes the event's
 * enqueued time) and never throws for any body, so one bad event or reading can never fail
 * or stall the batch it arrived in. Everything that is not accepted comes back as a
 * {@link Rejection} with its reason, each problem and the (bounded) raw payload, ready for
 * the dead-letter store.
 */
import { z } from 'zod';

/** The metrics a reading can carry, in the canonical order used everywhere (documents, alerts). */
export const metricNames = ['temperature', 'vibration', 'pressure'] as const;

/** One of {@link metricNames}. */
export type MetricName = (typeof metricNames)[number];

/**
 * Physical bounds per metric (inclusive). A value outside them is a broken sensor or a
 * unit mix-up, not an anomaly, so the reading is rejected rather than graded.
 *
 * - `temperature`: °C, -60..250. Covers arctic cold starts up to the hottest engine,
 *   exhaust-manifold-adjacent and hydraulic-oil sensors on heavy equipment.
 * - `vibration`: mm/s RMS (velocity, the ISO 10816 / 20816 measure), 0..100. Machines
 *   needing a shutdown sit around 7–11 mm/s; 100 is far beyond any real running machine.
 * - `pressure`: psi, 0..1000. Engine oil pressure or hydraulic pilot pressure, the
 *   quantity the severity thresholds (< 12 / < 10 / < 5) are written for. Gauge pressure,
 *   so never negative. Main hydraulic circuits (3000+ psi) are not this metric.
 */
export const metricBounds: Record<MetricName, { min: number; max: number; unit: string }> = {
  temperature: { min: -60, max: 250, unit: '°C' },
  vibration: { min: 0, max: 100, unit: 'mm/s' },
  pressure: { min: 0, max: 1000, unit: 'psi' },
};

/** Decimal places kept for every metric value. */
export const valueDecimals = 4;

/**
 * 10^{@link valueDecimals}. Values are rounded to this precision on input and aggregates
 * keep `round(value × valueScale)` as exact integers: integer addition is associative and
 * commutative, floating-point addition is not, so partial aggregates merged in any order
 * (batches, replays, rebalances) give bit-identical results.
 */
export const valueScale = 10_000;

/**
 * The exact integer `round(value × valueScale)`, the unit every sum is kept in. Halves
 * round towards +∞ (`Math.round`); what matters is that it is deterministic. -0 becomes 0
 * so that a stored document never depends on the sign of a zero.
 */
export function toScaled(value: number): number {
  const scaled = Math.round(value * valueScale);
  return scaled === 0 ? 0 : scaled;
}

/**
 * A value rounded to {@link valueDecimals} decimals. Idempotent, and `toScaled` of the
 * result gives back the same integer (|value × 10^4| ≤ 10^7 is far inside the range where
 * the division and multiplication round-trip), which keeps sums exact.
 */
export function roundValue(value: number): number {
  return toScaled(value) / valueScale;
}

/**
 * Equipment ids as the HTTP API shows them, in text form. Also safe as a Cosmos partition
 * key and inside document ids (no `/`, `\`, `?`, `#`).
 */
export const equipmentIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

/** Whether a telemetry equipment id (text) can name a MySQL equipment row (a positive id). */
export function namesMysqlRow(equipmentId: string): boolean {
  return /^[1-9][0-9]{0,15}$/.test(equipmentId);
}

/** Earliest accepted reading time (inclusive): 2000-01-01T00:00:00.000Z. */
export const minTimestampMs = Date.UTC(2000, 0, 1);

/**
 * Latest accepted reading time (exclusive): 2101-01-01T00:00:00.000Z, so the years 2000
 * through 2100 are accepted. Anything outside is a device with an unset or corrupt clock
 * (1970 after a power loss, or seconds sent as milliseconds).
 */
export const maxTimestampMs = Date.UTC(2101, 0, 1);

/** Most readings one event body may hold; a larger array is rejected whole as `too-many`. */
export const maxReadingsPerEvent = 500;

/**
 * Most bytes (UTF-8) of raw payload kept in a rejection. Dead letters exist to show why
 * data is missing, not to archive it; bounding them keeps a flood of garbage from turning
 * into a flood of large Cosmos documents.
 */
export const maxRawBytes = 4096;

/** How far a reading may be stamped after its event's enqueued time unless told otherwise. */
export const defaultFutureToleranceMs = 300_000;

/** A validated reading. Metric values are rounded to 4 decimals; `timestamp` is epoch ms. */
export interface Reading {
  equipmentId: string;
  /** Event time, epoch milliseconds (UTC). */
  timestamp: number;
  /** °C */
  temperature?: number;
  /** mm/s RMS */
  vibration?: number;
  /** psi */
  pressure?: number;
  status?: string;
  messageId?: string;
}

/** Why a reading (or a whole event) was not accepted. */
export const rejectionReasons = ['malformed', 'invalid', 'too-many', 'future'] as const;

/** One of {@link rejectionReasons}. */
export type RejectionReason = (typeof rejectionReasons)[number];

/** One problem with a rejected reading. */
export interface RejectionIssue {
  /** JSON pointer (RFC 6901) into the reading, e.g. `/temperature`; `` for the whole thing. */
  path: string;
  message: string;
}

/** Something from an event body that was not accepted, with enough to dead-letter it. */
export interface Rejection {
  /**
   * - `malformed`: the body is not UTF-8 or not JSON (the whole event).
   * - `invalid`: a reading failed the schema.
   * - `too-many`: an array of more than {@link maxReadingsPerEvent} readings (the whole event).
   * - `future`: a valid reading stamped too far after its event was enqueued.
   */
  reason: RejectionReason;
  issues: RejectionIssue[];
  /** The offending JSON text (the element's, for array bodies), at most {@link maxRawBytes}. */
  raw: string;
  rawTruncated: boolean;
  /** Position in the array for array bodies; null for a single reading or an unreadable body. */
  index: number | null;
}

/** Options of {@link parseEventBody}. */
export interface ParseEventBodyOptions {
  /** The event's enqueued time (epoch ms), from the trigger metadata. */
  enqueuedTimeMs: number;
  /** How far after `enqueuedTimeMs` a reading may be stamped; default 300 000 (5 minutes). */
  futureToleranceMs?: number;
}

// ---------- timestamps ----------

/**
 * ISO 8601 / RFC 3339 date-time with a zone: `2024-05-01T12:00:00Z`,
 * `2024-05-01T14:00:00.123+02:00`. Seconds and fractions are optional. A zone is required:
 * without one the instant depends on wherever the device happens to be configured.
 */
const isoDateTimePattern =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Epoch ms of an ISO date-time with zone, or a message saying what is wrong with it. */
function parseIsoDateTime(text: string): number | string {
  const match = isoDateTimePattern.exec(text);
  if (!match) {
    return /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text)
      ? 'Expected a time zone (Z or ±hh:mm) on the date-time'
      : 'Expected an ISO 8601 date-time with a time zone, e.g. 2024-05-01T12:00:00Z';
  }
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? '0');
  // Digits past milliseconds are cut off, not rounded: a reading at 12:04:59.9999 must stay
  // in the window ending at 12:05, as it would for any engine that truncates to ms.
  const millis = Number((frac ?? '').padEnd(3, '0').slice(0, 3));
  const offsetHours = Number(oh ?? '0');
  const offsetMinutes = Number(om ?? '0');
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) {
    return 'Expected a valid time of day and zone offset';
  }
  const local = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const check = new Date(local);
  // Date.UTC silently rolls 2024-02-30 over into March; a date that does not round-trip
  // does not exist.
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day
  ) {
    return 'Expected a calendar date that exists';
  }
  const offsetMs = (offsetHours * 60 + offsetMinutes) * 60_000;
  return sign === '-' ? local + offsetMs : local - offsetMs;
}

const timestampRangeMessage = 'Expected a time from 2000-01-01 through 2100 (UTC)';

const timestampSchema = z
  .union([z.number(), z.string()], {
    error: (issue) =>
      issue.input === undefined
        ? 'Required'
        : 'Expected an ISO 8601 date-time with a time zone, or epoch milliseconds',
  })
  .transform((value, ctx) => {
    let ms: number;
    if (typeof value === 'number') {
      if (!Number.isInteger(value)) {
        ctx.issues.push({ code: 'custom', input: value, message: 'Expected whole epoch ms' });
        return z.NEVER;
      }
      ms = value;
      // The commonest device bug: epoch seconds where milliseconds are expected.
      if (ms >= minTimestampMs / 1000 && ms < maxTimestampMs / 1000) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `${timestampRangeMessage}; ${value} looks like epoch seconds, send milliseconds`,
        });
        return z.NEVER;
      }
    } else {
      const parsed = parseIsoDateTime(value);
      if (typeof parsed === 'string') {
        ctx.issues.push({ code: 'custom', input: value, message: parsed });
        return z.NEVER;
      }
      ms = parsed;
    }
    if (ms < minTimestampMs || ms >= maxTimestampMs) {
      ctx.issues.push({ code: 'custom', input: value, message: timestampRangeMessage });
      return z.NEVER;
    }
    return ms;
  });

// ---------- the reading schema ----------

function metricSchema(metric: MetricName) {
  const { min, max, unit } = metricBounds[metric];
  const range = `Expected ${metric} from ${min} to ${max} ${unit}`;
  // Bounds apply to the value as sent; rounding afterwards cannot leave them because they
  // are whole numbers. null means "no value from this sensor", the same as leaving it out.
  return z
    .number({ error: `Expected ${metric} as a finite number in ${unit}` })
    .min(min, { error: (issue) => `${range}, got ${String(issue.input)}` })
    .max(max, { error: (issue) => `${range}, got ${String(issue.input)}` })
    .transform(roundValue)
    .nullish();
}

function optionalText(max: number) {
  return z
    .string({ error: 'Expected a string' })
    .max(max, { error: `Expected at most ${max} characters` })
    .nullish();
}

/**
 * A device reading: `equipmentId`, `timestamp` (ISO 8601 with a zone, or epoch ms; both
 * become epoch ms; 2000 through 2100), any of `temperature` / `vibration` / `pressure`
 * (at least one; finite, within {@link metricBounds}, rounded to 4 decimals; null counts as
 * absent) and optional `status` (≤ 32 characters) and `messageId` (≤ 128). Unknown fields
 * are ignored so devices can send more than this pipeline reads. The output has exactly
 * the {@link Reading} keys that carry a value, in a fixed order.
 */
export const readingSchema = z
  .object({
    equipmentId: z
      .string({ error: (issue) => (issue.input === undefined ? 'Required' : 'Expected a string') })
      .regex(equipmentIdPattern, {
        error: 'Expected 1 to 64 characters from A-Z, a-z, 0-9, ".", "_", ":" and "-"',
      }),
    timestamp: timestampSchema,
    temperature: metricSchema('temperature'),
    vibration: metricSchema('vibration'),
    pressure: metricSchema('pressure'),
    status: optionalText(32),
    messageId: optionalText(128),
  })
  .refine((value) => metricNames.some((metric) => value[metric] != null), {
    error: 'Expected at least one of temperature, vibration or pressure',
  })
  .transform((value): Reading => {
    const reading: Reading = { equipmentId: value.equipmentId, timestamp: value.timestamp };
    for (const metric of metricNames) {
      const metricValue = value[metric];
      if (metricValue != null) reading[metric] = metricValue;
    }
    if (value.status != null) reading.status = value.status;
    if (value.messageId != null) reading.messageId = value.messageId;
    return reading;
  });

// ---------- the fast path ----------
//
// Full validation costs far more than parsing the JSON (a CPU profile of
// bench/metrics/ingestCore.ts: zod, its issue objects and the garbage they leave). Almost every
// reading a fleet sends has the same clean shape, so it is judged first by hand: a value the
// fast path is not sure of — an unusual form, a zone offset, an extra key, or anything invalid —
// makes it give up, and the reading goes through `readingSchema` as before. It therefore never
// rejects anything itself: every rejection and its message come from the full validation.
// tests/lib/telemetry/reading.test.ts checks that both paths agree on generated inputs.

/** 10^k for the fraction digits of a hand-parsed number (exact doubles up to 10^22). */
const powersOfTen = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** The digit at `at` (0–9), or -1. */
function digitAt(text: string, at: number): number {
  const value = text.charCodeAt(at) - 48;
  return value >= 0 && value <= 9 ? value : -1;
}

/** The two-digit number at `at`, or -1. */
function twoDigitsAt(text: string, at: number): number {
  const tens = digitAt(text, at);
  const ones = digitAt(text, at + 1);
  return tens < 0 || ones < 0 ? -1 : tens * 10 + ones;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Epoch ms of `text[start, end)` when it is a UTC date-time `parseIsoDateTime` accepts in its
 * usual form (`2024-05-01T12:00:00.123Z`; seconds and fraction optional, `Z` as the zone),
 * else NaN: a zone offset or anything odd is left to `parseIsoDateTime`. No substrings, no
 * regular expression, no Date object.
 */
function fastIsoUtc(text: string, start: number, end: number): number {
  if (end - start === 24) {
    const canonical = canonicalIsoUtc(text, start);
    if (!Number.isNaN(canonical)) return canonical;
  }
  const year = twoDigitsAt(text, start) * 100 + twoDigitsAt(text, start + 2);
  const month = twoDigitsAt(text, start + 5);
  const day = twoDigitsAt(text, start + 8);
  const hour = twoDigitsAt(text, start + 11);
  const minute = twoDigitsAt(text, start + 14);
  if (
    end - start < 17 ||
    twoDigitsAt(text, start) < 0 ||
    twoDigitsAt(text, start + 2) < 0 ||
    text.charCodeAt(start + 4) !== 45 || // -
    text.charCodeAt(start + 7) !== 45 ||
    (text.charCodeAt(start + 10) | 0x20) !== 0x74 || // T or t
    text.charCodeAt(start + 13) !== 58 || // :
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59
  ) {
    return NaN;
  }
  let at = start + 16;
  let second = 0;
  let millis = 0;
  if (text.charCodeAt(at) === 58) {
    second = twoDigitsAt(text, at + 1);
    if (second < 0 || second > 59) return NaN;
    at += 3;
    if (text.charCodeAt(at) === 46) {
      // Digits past milliseconds are cut off, as parseIsoDateTime does.
      const first = at + 1;
      for (at = first; at < end && digitAt(text, at) >= 0; at++) {
        if (at - first < 3) millis = millis * 10 + digitAt(text, at);
      }
      const digits = at - first;
      if (digits < 1 || digits > 9) return NaN;
      for (let k = digits; k < 3; k++) millis *= 10;
    }
  }
  if (at !== end - 1 || (text.charCodeAt(at) | 0x20) !== 0x7a) return NaN; // Z or z
  return (
    daysFromCivil(year, month, day) * 86_400_000 +
    ((hour * 60 + minute) * 60 + second) * 1000 +
    millis
  );
}

/** Whether `code` − 48 is a decimal digit (an unsigned comparison: below `0` wraps high). */
function isDigit(value: number): boolean {
  return value >>> 0 <= 9;
}

/**
 * Epoch ms of `text` at `start` in exactly the form `Date.prototype.toISOString` writes
 * (`2024-05-01T12:00:00.123Z`, 24 characters), else NaN (then {@link fastIsoUtc} reads it the
 * general way). Straight-line: every position is fixed, so no loop and no helper per digit (a
 * CPU profile of bench/metrics/ingestCore.ts showed the general reader's digit helpers).
 */
function canonicalIsoUtc(text: string, start: number): number {
  const y0 = text.charCodeAt(start) - 48;
  const y1 = text.charCodeAt(start + 1) - 48;
  const y2 = text.charCodeAt(start + 2) - 48;
  const y3 = text.charCodeAt(start + 3) - 48;
  const mo0 = text.charCodeAt(start + 5) - 48;
  const mo1 = text.charCodeAt(start + 6) - 48;
  const d0 = text.charCodeAt(start + 8) - 48;
  const d1 = text.charCodeAt(start + 9) - 48;
  const h0 = text.charCodeAt(start + 11) - 48;
  const h1 = text.charCodeAt(start + 12) - 48;
  const mi0 = text.charCodeAt(start + 14) - 48;
  const mi1 = text.charCodeAt(start + 15) - 48;
  const s0 = text.charCodeAt(start + 17) - 48;
  const s1 = text.charCodeAt(start + 18) - 48;
  const ms0 = text.charCodeAt(start + 20) - 48;
  const ms1 = text.charCodeAt(start + 21) - 48;
  const ms2 = text.charCodeAt(start + 22) - 48;
  if (!(
    isDigit(y0) &&
    isDigit(y1) &&
    isDigit(y2) &&
    isDigit(y3) &&
    isDigit(mo0) &&
    isDigit(mo1) &&
    isDigit(d0) &&
    isDigit(d1) &&
    isDigit(h0) &&
    isDigit(h1) &&
    isDigit(mi0) &&
    isDigit(mi1) &&
    isDigit(s0) &&
    isDigit(s1) &&
    isDigit(ms0) &&
    isDigit(ms1) &&
    isDigit(ms2) &&
    text.charCodeAt(start + 4) === 45 && // -
    text.charCodeAt(start + 7) === 45 &&
    text.charCodeAt(start + 10) === 84 && // T
    text.charCodeAt(start + 13) === 58 && // :
    text.charCodeAt(start + 16) === 58 &&
    text.charCodeAt(start + 19) === 46 && // .
    text.charCodeAt(start + 23) === 90 // Z
  )) {
    return NaN;
  }
  const year = ((y0 * 10 + y1) * 10 + y2) * 10 + y3;
  const month = mo0 * 10 + mo1;
  const day = d0 * 10 + d1;
  const hour = h0 * 10 + h1;
  const minute = mi0 * 10 + mi1;
  const second = s0 * 10 + s1;
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return NaN;
  }
  return (
    daysFromCivil(year, month, day) * 86_400_000 +
    ((hour * 60 + minute) * 60 + second) * 1000 +
    (ms0 * 10 + ms1) * 10 +
    ms2
  );
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`): plain
 * arithmetic instead of a `Date.UTC` call (a CPU profile of bench/metrics/ingestCore.ts showed
 * it). Equals `Date.UTC(year, month - 1, day) / 86 400 000` for every year from 100 on;
 * `Date.UTC` reads years 0–99 as 1900–1999, but those, like every year before 2000, fail the
 * range check either way.
 */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** A metric value as the schema outputs it: rounded, or NaN when the full path must judge. */
function fastMetricValue(metric: MetricName, value: number): number {
  const { min, max } = metricBounds[metric];
  // NaN fails both comparisons, and a value out of bounds is the full path's to reject.
  return value >= min && value <= max ? roundValue(value) : NaN;
}

/** Epoch ms of a whole-number timestamp the schema accepts, else NaN. */
function fastEpochMs(value: number): number {
  return Number.isInteger(value) && value >= minTimestampMs && value < maxTimestampMs ? value : NaN;
}

/** A reading with the schema's key order from values the fast path has checked. */
function readingOf(
  equipmentId: string,
  timestamp: number,
  temperature: number | undefined,
  vibration: number | undefined,
  pressure: number | undefined,
  status: string | undefined,
  messageId: string | undefined,
): Reading {
  if (
    temperature !== undefined &&
    vibration !== undefined &&
    pressure !== undefined &&
    status === undefined &&
    messageId === undefined
  ) {
    // The commonest reading, made in one step with one shape.
    return { equipmentId, timestamp, temperature, vibration, pressure };
  }
  const reading: Reading = { equipmentId, timestamp };
  if (temperature !== undefined) reading.temperature = temperature;
  if (vibration !== undefined) reading.vibration = vibration;
  if (pressure !== undefined) reading.pressure = pressure;
  if (status !== undefined) reading.status = status;
  if (messageId !== undefined) reading.messageId = messageId;
  return reading;
}

/** Whether a reading stamped at `timestamp` passes the future check of {@link checkReading}. */
function inTime(timestamp: number, enqueuedTimeMs: number, futureToleranceMs: number): boolean {
  return timestamp >= minTimestampMs && timestamp < maxTimestampMs
    ? !(timestamp - enqueuedTimeMs > futureToleranceMs)
    : false;
}

/**
 * A parsed value (an object the host or `JSON.parse` made) as the reading `readingSchema`
 * would output, when the fast path can tell it is valid and not stamped in the future;
 * undefined means "ask the schema". Reads each field once, as the schema does
 * (`value[key]`). Exported for the tests that hold it to the schema.
 */
export function fastReadingOf(
  value: unknown,
  enqueuedTimeMs: number,
  futureToleranceMs: number,
): Reading | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const equipmentId = record['equipmentId'];
  if (typeof equipmentId !== 'string' || !equipmentIdPattern.test(equipmentId)) return undefined;
  const stamp = record['timestamp'];
  const timestamp =
    typeof stamp === 'number'
      ? fastEpochMs(stamp)
      : typeof stamp === 'string'
        ? fastIsoUtc(stamp, 0, stamp.length)
        : NaN;
  if (!inTime(timestamp, enqueuedTimeMs, futureToleranceMs)) return undefined;
  const metricValues: (number | undefined)[] = [undefined, undefined, undefined];
  let present = 0;
  for (let m = 0; m < metricNames.length; m++) {
    const metric = metricNames[m] as MetricName;
    const given = record[metric];
    if (given === undefined || given === null) continue;
    if (typeof given !== 'number') return undefined;
    const rounded = fastMetricValue(metric, given);
    if (Number.isNaN(rounded)) return undefined;
    metricValues[m] = rounded;
    present++;
  }
  if (present === 0) return undefined;
  const status = record['status'];
  const messageId = record['messageId'];
  if (status != null && (typeof status !== 'string' || status.length > 32)) return undefined;
  if (messageId != null && (typeof messageId !== 'string' || messageId.length > 128)) {
    return undefined;
  }
  return readingOf(
    equipmentId,
    timestamp,
    metricValues[0],
    metricValues[1],
    metricValues[2],
    status ?? undefined,
    messageId ?? undefined,
  );
}

/**
 * A hand scanner for bodies in the usual form, straight from the JSON text: one reading object
 * or an array of them, each with only `equipmentId`, `timestamp` and metric keys (any order,
 * each once), plain strings without escapes and plain decimal numbers. It builds the readings
 * without the intermediate object `JSON.parse` would make. Anything else (including anything
 * invalid) makes {@link scanReadings} return false and the body goes the full way.
 *
 * Numbers: at most 15 significant digits and no exponent, so the digits are an exact integer
 * and one division by an exact power of ten is correctly rounded: the same double as
 * `JSON.parse` (Clinger's fast path).
 */
/** The keys the scanner knows, by index: a seen-key bit is `1 << index`. */
const scannedKeys: readonly string[] = ['equipmentId', 'timestamp', ...metricNames];

/** The code units of every {@link scannedKeys} name, one after the other. */
const keyCodes = Uint8Array.from(scannedKeys.join(''), (character) => character.charCodeAt(0));

/** Where each name starts in {@link keyCodes}, and where the last one ends. */
const keyCodeStarts = [0];
for (const name of scannedKeys) keyCodeStarts.push((keyCodeStarts.at(-1) ?? 0) + name.length);

// The scanner keeps its position in a local variable of each function and passes it along
// (a CPU profile of bench/metrics/ingestCore.ts showed the loads and stores of a scanner
// object's `at` field); a helper that also finds a value leaves it in `scannedNumber`.

/** The number the last {@link plainNumberEnd} read, or NaN. */
let scannedNumber = NaN;

/** The position of the first non-space at or after `at`. */
function spaceEnd(text: string, at: number): number {
  // Bodies in the usual form have no whitespace: one comparison, then back.
  if (text.charCodeAt(at) > 32) return at;
  for (;;) {
    const code = text.charCodeAt(at);
    if (code !== 32 && code !== 10 && code !== 13 && code !== 9) return at;
    at++;
  }
}

/** The position of the closing quote of a string whose opening quote is at `at`, or -1. */
function plainStringEnd(text: string, at: number): number {
  if (text.charCodeAt(at) !== 34) return -1;
  for (at++; ; at++) {
    const code = text.charCodeAt(at);
    if (code === 34) return at;
    // Escapes, control characters (invalid JSON) and the end of text are the full path's.
    if (code === 92 || code < 32 || Number.isNaN(code)) return -1;
  }
}

/**
 * The end of a plain JSON number at `at`, leaving its value in {@link scannedNumber}; or -1
 * (anything else, or more than 15 significant digits, or an exponent).
 */
function plainNumberEnd(text: string, at: number): number {
  const negative = text.charCodeAt(at) === 45;
  if (negative) at++;
  const integerStart = at;
  let mantissa = 0;
  let digits = 0;
  for (let d = text.charCodeAt(at) - 48; d >= 0 && d <= 9; d = text.charCodeAt(++at) - 48) {
    mantissa = mantissa * 10 + d;
    digits++;
  }
  if (digits === 0 || (digits > 1 && text.charCodeAt(integerStart) === 48)) return -1;
  let fraction = 0;
  if (text.charCodeAt(at) === 46) {
    for (let d = text.charCodeAt(++at) - 48; d >= 0 && d <= 9; d = text.charCodeAt(++at) - 48) {
      mantissa = mantissa * 10 + d;
      fraction++;
    }
    if (fraction === 0) return -1;
  }
  if ((text.charCodeAt(at) | 0x20) === 0x65 || digits + fraction > 15) return -1; // e/E, digits
  const magnitude = fraction === 0 ? mantissa : mantissa / (powersOfTen[fraction] ?? NaN);
  scannedNumber = negative ? -magnitude : magnitude;
  return at;
}

/** Whether each ASCII code may appear in an equipment id ({@link equipmentIdPattern}'s class). */
const idCodes = Uint8Array.from({ length: 128 }, (_, code) =>
  equipmentIdPattern.test(String.fromCharCode(code)) ? 1 : 0,
);

/**
 * The position of the closing quote of a quoted equipment id at `at` whose characters all
 * match {@link equipmentIdPattern} (1–64 of them), or -1: one pass instead of finding the end
 * and then testing the pattern (a CPU profile of bench/metrics/ingestCore.ts showed both).
 */
function plainIdEnd(text: string, at: number): number {
  if (text.charCodeAt(at) !== 34) return -1;
  const first = at + 1;
  for (at = first; ; at++) {
    const code = text.charCodeAt(at);
    if (code === 34) return at > first && at - first <= 64 ? at : -1;
    // Anything else (an escape, the end of text: NaN) is the full path's to judge.
    if (!(code < 128 && idCodes[code] === 1)) return -1;
  }
}

/**
 * Which of {@link scannedKeys} the quoted name at `at` is (its index), or -1 for any other
 * name. One pass, no substring: the first letters pick the only candidate, which is then
 * compared in full, closing quote included (an escape in a name is therefore "another name",
 * left to the full path).
 */
function knownKeyAt(text: string, at: number): number {
  if (text.charCodeAt(at) !== 34) return -1;
  const first = text.charCodeAt(at + 1);
  const key =
    first === 101 // e
      ? 0
      : first === 116 // t
        ? text.charCodeAt(at + 2) === 105 // i
          ? 1
          : 2
        : first === 118 // v
          ? 3
          : first === 112 // p
            ? 4
            : -1;
  if (key < 0) return -1;
  // Compared code unit by code unit against a typed array (`startsWith` with a position
  // profiled twice as slow, and reading the name's own characters as slow again).
  const from = keyCodeStarts[key] as number;
  const to = keyCodeStarts[key + 1] as number;
  const offset = at + 1 - from;
  for (let k = from + 1; k < to; k++) {
    if (text.charCodeAt(offset + k) !== keyCodes[k]) return -1;
  }
  return text.charCodeAt(offset + to) === 34 ? key : -1;
}

/**
 * One reading object at `at`, appended to `out`: returns the position after it, or -1 (then
 * nothing was appended).
 */
function scanReadingAt(
  text: string,
  at: number,
  out: Reading[],
  enqueuedTimeMs: number,
  futureToleranceMs: number,
): number {
  if (text.charCodeAt(at) !== 123) return -1; // {
  at++;
  let equipmentId: string | undefined;
  let timestamp = NaN;
  let temperature: number | undefined;
  let vibration: number | undefined;
  let pressure: number | undefined;
  let seen = 0;
  for (;;) {
    at = spaceEnd(text, at);
    const key = knownKeyAt(text, at);
    if (key < 0) return -1; // another key: its value may be anything
    at = spaceEnd(text, at + 2 + (scannedKeys[key] as string).length);
    if (text.charCodeAt(at) !== 58) return -1; // :
    at = spaceEnd(text, at + 1);
    const bit = 1 << key;
    if (key === 0) {
      const end = plainIdEnd(text, at);
      if (end < 0) return -1;
      equipmentId = text.slice(at + 1, end);
      at = end + 1;
    } else if (key === 1) {
      // toISOString's form, read in the same pass that finds its end: canonicalIsoUtc accepts
      // only digits and separators in the 24 places, so no quote or escape hides among them.
      const canonical =
        text.charCodeAt(at) === 34 && text.charCodeAt(at + 25) === 34
          ? canonicalIsoUtc(text, at + 1)
          : NaN;
      if (!Number.isNaN(canonical)) {
        timestamp = canonical;
        at += 26;
      } else if (text.charCodeAt(at) === 34) {
        const end = plainStringEnd(text, at);
        if (end < 0) return -1;
        timestamp = fastIsoUtc(text, at + 1, end);
        at = end + 1;
      } else {
        at = plainNumberEnd(text, at);
        if (at < 0) return -1;
        timestamp = fastEpochMs(scannedNumber);
      }
    } else {
      let value: number | undefined;
      if (text.charCodeAt(at) === 110 && text.startsWith('null', at)) at += 4;
      else {
        at = plainNumberEnd(text, at);
        if (at < 0) return -1;
        value = fastMetricValue(scannedKeys[key] as MetricName, scannedNumber);
        if (Number.isNaN(value)) return -1;
      }
      if (key === 2) temperature = value;
      else if (key === 3) vibration = value;
      else pressure = value;
    }
    if (seen & bit) return -1; // a repeated key: JSON.parse keeps the last
    seen |= bit;
    at = spaceEnd(text, at);
    const next = text.charCodeAt(at++);
    if (next === 125) break; // }
    if (next !== 44) return -1; // ,
  }
  if (
    equipmentId === undefined ||
    (temperature === undefined && vibration === undefined && pressure === undefined) ||
    !inTime(timestamp, enqueuedTimeMs, futureToleranceMs)
  ) {
    return -1;
  }
  out.push(
    readingOf(equipmentId, timestamp, temperature, vibration, pressure, undefined, undefined),
  );
  return at;
}

/** Appends the body's readings to `out` and returns true, or returns false (out unchanged). */
function scanReadings(
  text: string,
  out: Reading[],
  enqueuedTimeMs: number,
  futureToleranceMs: number,
): boolean {
  const before = out.length;
  let at = spaceEnd(text, 0);
  if (text.charCodeAt(at) === 91) {
    // [
    at = spaceEnd(text, at + 1);
    if (text.charCodeAt(at) === 93) at++;
    else {
      for (;;) {
        // Too many: the full path says so.
        if (out.length - before >= maxReadingsPerEvent) at = -1;
        else at = scanReadingAt(text, at, out, enqueuedTimeMs, futureToleranceMs);
        if (at < 0) break;
        at = spaceEnd(text, at);
        const next = text.charCodeAt(at++);
        if (next === 93) break; // ]
        if (next !== 44) {
          at = -1;
          break;
        }
        at = spaceEnd(text, at);
      }
    }
  } else at = scanReadingAt(text, at, out, enqueuedTimeMs, futureToleranceMs);
  if (at >= 0 && spaceEnd(text, at) === text.length) return true;
  out.length = before;
  return false;
}

/**
 * The readings of a body's JSON text in the usual form, when the hand scanner takes it
 * whole (every reading valid and in time), else undefined: the full path decides. Exported
 * for the tests that hold it to the schema.
 */
export function scanUsualBody(
  text: string,
  enqueuedTimeMs: number,
  futureToleranceMs: number,
): Reading[] | undefined {
  const readings: Reading[] = [];
  return scanReadings(text, readings, enqueuedTimeMs, futureToleranceMs) ? readings : undefined;
}

// ---------- event bodies ----------

/** RFC 6901 pointer for a zod issue path; `` is the whole reading. */
function pointer(path: readonly PropertyKey[]): string {
  return path.map((token) => `/${String(token).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const lossyDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Text cut to at most {@link maxRawBytes} UTF-8 bytes, never inside a character. */
function boundedRaw(text: string): { raw: string; rawTruncated: boolean } {
  // Each UTF-16 unit encodes to at most 3 bytes, so short text needs no encoding at all.
  if (text.length * 3 <= maxRawBytes) return { raw: text, rawTruncated: false };
  const bytes = encoder.encode(text);
  if (bytes.length <= maxRawBytes) return { raw: text, rawTruncated: false };
  let end = maxRawBytes;
  // Back up over continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return { raw: lossyDecoder.decode(bytes.subarray(0, end)), rawTruncated: true };
}

/** JSON text of an already-parsed value, or a best-effort description when it has none. */
function safeStringify(value: unknown): string {
  try {
    const json = JSON.stringify(value) as string | undefined;
    if (json !== undefined) return json;
  } catch {
    // BigInt or a cycle: fall through to a description.
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : safeStringify(error);
  // Engine messages can quote the input; keep dead letters bounded.
  return message.length > 200 ? `${message.slice(0, 199)}…` : message;
}

/**
 * Bytes of a body, for the binary shapes the Functions host and SDKs hand over: Buffer and
 * other typed arrays, ArrayBuffer, and a Buffer that went through JSON.stringify
 * (`{ type: 'Buffer', data: [...] }`).
 */
function bytesOf(body: unknown): Uint8Array | undefined {
  if (ArrayBuffer.isView(body))
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  const tag = Object.prototype.toString.call(body);
  if (tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]') {
    return new Uint8Array(body as ArrayBufferLike);
  }
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    const keys = Object.keys(record);
    const data = record['data'];
    if (
      keys.length === 2 &&
      record['type'] === 'Buffer' &&
      Array.isArray(data) &&
      data.every(
        (byte) => Number.isInteger(byte) && (byte as number) >= 0 && (byte as number) <= 255,
      )
    ) {
      return Uint8Array.from(data as number[]);
    }
  }
  return undefined;
}

/** Why an event without a body is rejected (the whole event, `malformed`). */
export const emptyBodyMessage = 'The event has an empty body';

/**
 * A body as bounded text for a record of it (a parked batch): text as is, bytes decoded as
 * UTF-8 (invalid sequences replaced), anything else as its JSON; at most {@link maxRawBytes}.
 */
export function rawOfBody(body: unknown): { raw: string; rawTruncated: boolean } {
  if (typeof body === 'string') return boundedRaw(body);
  const bytes = bytesOf(body);
  if (bytes !== undefined) {
    // Decode no more than can be kept (a character is at most 4 bytes).
    const kept = bytes.subarray(0, maxRawBytes + 4);
    const bounded = boundedRaw(lossyDecoder.decode(kept));
    return { raw: bounded.raw, rawTruncated: bounded.rawTruncated || bytes.length > kept.length };
  }
  return boundedRaw(body === undefined ? '' : safeStringify(body));
}

type Decoded =
  | { ok: true; value: unknown; text: string | undefined }
  | { ok: true; scanned: true }
  | { ok: false; rejection: Rejection };

function malformed(message: string, text: string): Decoded {
  return {
    ok: false,
    rejection: {
      reason: 'malformed',
      issues: [{ path: '', message }],
      ...boundedRaw(text),
      index: null,
    },
  };
}

const scannedBody: Decoded = { ok: true, scanned: true };

/**
 * The parsed JSON value of a body, with its text when it came as text or bytes; or, when
 * the hand scanner took the text in its usual form, its readings appended to `readings`
 * (then every reading of the body was valid).
 *
 * The trigger is declared `dataType: 'binary'`, so in Azure each body is a Node `Buffer`:
 * the host turns `byte[][]` into `collection_bytes`
 * (Azure/azure-functions-host src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs,
 * `ToRpcByteArray`, which keeps empty entries) and the library maps each element with
 * `Buffer.from` (Azure/azure-functions-nodejs-library src/converters/fromRpcTypedData.ts).
 * An event without a body is then a zero-length Buffer, rejected here as `malformed`.
 */
function decode(
  body: unknown,
  readings: Reading[],
  enqueuedTimeMs: number,
  futureToleranceMs: number,
): Decoded {
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    const bytes = bytesOf(body);
    // Anything else is a value the host already parsed from JSON.
    if (bytes === undefined) return { ok: true, value: body, text: undefined };
    try {
      text = strictDecoder.decode(bytes);
    } catch {
      return malformed('The body is not valid UTF-8', lossyDecoder.decode(bytes));
    }
  }
  if (text.length === 0) return malformed(emptyBodyMessage, text);
  // A UTF-8 byte order mark (common from .NET and Windows tools) is not JSON whitespace,
  // but RFC 8259 lets parsers ignore it; a device should not lose data over it.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  if (scanReadings(text, readings, enqueuedTimeMs, futureToleranceMs)) {
    return scannedBody;
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown, text };
  } catch (error) {
    return malformed(`The body is not valid JSON: ${errorMessage(error)}`, text);
  }
}

/** Validates one reading; `raw()` is only computed when it is rejected. */
function checkReading(
  value: unknown,
  index: number | null,
  raw: () => string,
  enqueuedTimeMs: number,
  futureToleranceMs: number,
): Reading | Rejection {
  try {
    const fast = fastReadingOf(value, enqueuedTimeMs, futureToleranceMs);
    if (fast !== undefined) return fast;
    const result = readingSchema.safeParse(value);
    if (!result.success) {
      return {
        reason: 'invalid',
        issues: result.error.issues.map((issue) => ({
          path: pointer(issue.path),
          message: issue.message,
        })),
        ...boundedRaw(raw()),
        index,
      };
    }
    const ahead = result.data.timestamp - enqueuedTimeMs;
    if (ahead > futureToleranceMs) {
      return {
        reason: 'future',
        issues: [
          {
            path: '/timestamp',
            message: `Stamped ${ahead} ms after the event was enqueued; at most ${futureToleranceMs} ms is allowed`,
          },
        ],
        ...boundedRaw(raw()),
        index,
      };
    }
    return result.data;
  } catch (error) {
    // Only reachable with values no JSON parser produces (throwing getters, proxies);
    // still this reading's problem alone, never the batch's.
    return {
      reason: 'invalid',
      issues: [{ path: '', message: `Could not validate the reading: ${errorMessage(error)}` }],
      ...boundedRaw(safeStringify(value)),
      index,
    };
  }
}

function isRejection(value: Reading | Rejection): value is Rejection {
  return 'reason' in value;
}

/**
 * Turns one Event Hubs event body into validated readings and rejections.
 *
 * The body may be JSON text, UTF-8 bytes (Buffer, any typed array, ArrayBuffer) or a value
 * the Functions host already parsed. It holds one reading object or an array of up to
 * {@link maxReadingsPerEvent}. Each array element is judged on its own: a bad one becomes
 * a rejection at its `index` and never affects its neighbours. An empty array yields
 * nothing (there is nothing to lose). Readings keep their order in the body.
 *
 * Never throws for any body. Throws a `RangeError` only for a programming error in
 * `options` (a non-finite enqueued time or a negative tolerance), because silently skipping
 * the future check would let a device with a runaway clock poison windows.
 */
export function parseEventBody(
  body: unknown,
  options: ParseEventBodyOptions,
): { readings: Reading[]; rejections: Rejection[] } {
  const readings: Reading[] = [];
  const rejections: Rejection[] = [];
  parseEventBodyInto(body, options, readings, rejections);
  return { readings, rejections };
}

/**
 * {@link parseEventBody}, appending to the caller's arrays (a fold over many events reuses
 * two arrays instead of making three objects per event).
 */
export function parseEventBodyInto(
  body: unknown,
  options: ParseEventBodyOptions,
  readings: Reading[],
  rejections: Rejection[],
): void {
  const { enqueuedTimeMs, futureToleranceMs = defaultFutureToleranceMs } = options;
  if (!Number.isFinite(enqueuedTimeMs)) {
    throw new RangeError(`enqueuedTimeMs must be finite epoch ms, got ${String(enqueuedTimeMs)}`);
  }
  if (!(futureToleranceMs >= 0)) {
    throw new RangeError(`futureToleranceMs must be ≥ 0, got ${String(futureToleranceMs)}`);
  }
  const decoded = decode(body, readings, enqueuedTimeMs, futureToleranceMs);
  if (!decoded.ok) {
    rejections.push(decoded.rejection);
    return;
  }
  if ('scanned' in decoded) return;
  const { value, text } = decoded;
  const wholeRaw = (): string => text ?? safeStringify(value);

  if (!Array.isArray(value)) {
    const outcome = checkReading(value, null, wholeRaw, enqueuedTimeMs, futureToleranceMs);
    if (isRejection(outcome)) rejections.push(outcome);
    else readings.push(outcome);
    return;
  }

  const items: readonly unknown[] = value;
  if (items.length > maxReadingsPerEvent) {
    rejections.push({
      reason: 'too-many',
      issues: [
        {
          path: '',
          message: `The event holds ${items.length} readings; at most ${maxReadingsPerEvent} are accepted per event`,
        },
      ],
      ...boundedRaw(wholeRaw()),
      index: null,
    });
    return;
  }
  for (let index = 0; index < items.length; index += 1) {
    const item = items[index];
    const outcome = checkReading(
      item,
      index,
      () => safeStringify(item),
      enqueuedTimeMs,
      futureToleranceMs,
    );
    if (isRejection(outcome)) rejections.push(outcome);
    else readings.push(outcome);
  }
}
