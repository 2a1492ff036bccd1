/**
 * Five-minute tumbling windows on event time, aligned to the Unix epoch: the semantics of
 * Azure Stream Analytics `TumblingWindow(minute, 5)` with `TIMESTAMP BY`. Windows are
 * half-open, `[start, start + 5 min)`: a reading stamped exactly on a boundary belongs to
 * the window that starts there, so every instant is in exactly one window.
 */

/** Length of a window in milliseconds (5 minutes). */
export const windowSizeMs = 300_000;

function assertEpochMs(value: number, name: string): void {
  // Fractional or unsafe values would produce windows that never line up with anyone
  // else's; that is a programming error, not data to fold.
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${name} must be whole epoch milliseconds, got ${String(value)}`);
  }
}

function assertWindowStart(start: number): void {
  assertEpochMs(start, 'A window start');
  if (windowStartOf(start) !== start) {
    throw new RangeError(`${String(start)} is not the start of a ${windowSizeMs} ms window`);
  }
}

/** Start (epoch ms, inclusive) of the window holding `timestampMs`. */
export function windowStartOf(timestampMs: number): number {
  assertEpochMs(timestampMs, 'A timestamp');
  // Floor division, so even instants before 1970 align the same way; one division rather than
  // two `%` of doubles (a CPU profile of bench/metrics/ingestCore.ts showed them). Exact for
  // every safe integer t: the quotient k ± r/windowSizeMs (r ≥ 1) has |k| < 2^35, where doubles
  // lie at most 2^-18 apart, so rounding moves it by under 2^-19 < 1/windowSizeMs and never
  // across an integer; k × windowSizeMs is even and below 2^54, so exact too.
  return Math.floor(timestampMs / windowSizeMs) * windowSizeMs;
}

/** End (epoch ms, exclusive) of the window starting at `start`: the next window's start. */
export function windowEndOf(start: number): number {
  assertWindowStart(start);
  return start + windowSizeMs;
}

/**
 * Stable id of a window: its start as ISO 8601 UTC, e.g. `2024-05-01T12:05:00.000Z`.
 * Fixed-width, so ids sort in time order as strings (Cosmos ORDER BY, document ids).
 */
export function windowId(start: number): string {
  assertWindowStart(start);
  return new Date(start).toISOString();
}

/** The start (epoch ms) of the window a {@link windowId} names; throws for anything else. */
export function parseWindowId(id: string): number {
  const start = Date.parse(id);
  if (!Number.isSafeInteger(start) || windowStartOf(start) !== start || windowId(start) !== id) {
    throw new RangeError(`Not a window id: ${JSON.stringify(id)}`);
  }
  return start;
}

/** Whether `timestampMs` falls inside the window starting at `start`. */
export function windowContains(start: number, timestampMs: number): boolean {
  return windowStartOf(timestampMs) === windowEndOf(start) - windowSizeMs;
}
