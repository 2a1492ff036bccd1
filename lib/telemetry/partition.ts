/**
 * The per-partition fold, as pure functions: the processor reads a partition's state, applies
 * a batch, writes what this returns, and commits the new state under an ETag precondition.
 *
 * Why it is exactly-once: an Event Hubs partition is an ordered log, and the state records the
 * highest sequence number whose effects are committed. Events at or below it are skipped, so
 * a redelivered batch, or a stretch of the stream replayed after a crash, changes nothing.
 * Everything else is decided per event in sequence order (the watermark, whether a reading is
 * late), so the outcome does not depend on how the host splits the stream into batches. A
 * batch's accepted readings are written once, as one partial document keyed by its sequence
 * range, and only partials the committed state lists are ever merged, so the partial of an
 * attempt that crashed before committing is ignored. Sums are exact integers, so merging in
 * any order gives the same aggregates.
 */
import { parseEventBody, type Reading, type Rejection } from './reading.js';
import { addReading, emptyStats, mergeStats, type WindowStats } from './stats.js';
import { windowEndOf, windowStartOf } from './window.js';

export interface PipelineSettings {
  /** How far behind the newest event time a reading may arrive and still count. */
  allowedLatenessMs: number;
  /** How far ahead of its enqueued time a reading may be stamped. */
  futureToleranceMs: number;
}

/** One Event Hubs event as the trigger hands it over. */
export interface PartitionEvent {
  body: unknown;
  sequenceNumber: number;
  enqueuedTimeMs: number;
}

/** A committed partial whose windows are not all closed yet. */
export interface PendingPartial {
  id: string;
  /** Starts of the windows in that partial that have not been emitted. */
  windows: number[];
}

/** What a partition's processing has committed. */
export interface PartitionState {
  partitionId: string;
  /** Highest sequence number whose effects are committed; -1 before the first event. */
  lastSequenceNumber: number;
  /**
   * Largest accepted event time (each capped at its event's enqueued time), or null before
   * the first accepted reading.
   */
  maxEventTime: number | null;
  /** Windows ending at or before this instant are closed: no reading is added to them. */
  closedBefore: number;
  pending: PendingPartial[];
}

/** One equipment's readings in one window, within one batch. */
export interface PartialEntry {
  equipmentId: string;
  windowStart: number;
  stats: WindowStats;
  /** The reading with the newest timestamp (for the live view). */
  latest: Reading;
}

/** A batch's accepted readings, folded per equipment and window. */
export interface BatchPartial {
  id: string;
  partitionId: string;
  firstSequenceNumber: number;
  lastSequenceNumber: number;
  entries: PartialEntry[];
}

export type DeadLetterReason = Rejection['reason'] | 'late';

/** A rejected reading, with where it came from and why. */
export interface DeadLetter {
  /** Deterministic, so redelivery overwrites rather than duplicates. */
  id: string;
  equipmentId: string | null;
  reason: DeadLetterReason;
  issues: { path: string; message: string }[];
  raw: string;
  rawTruncated: boolean;
  partitionId: string;
  sequenceNumber: number;
  enqueuedTime: string;
  /** Position in an array body, or null. */
  index: number | null;
}

export function initialPartitionState(partitionId: string): PartitionState {
  return { partitionId, lastSequenceNumber: -1, maxEventTime: null, closedBefore: 0, pending: [] };
}

export function partialId(partitionId: string, first: number, last: number): string {
  return `${partitionId}:${first}-${last}`;
}

/** Rejections are numbered by array index; late readings by position among the valid ones. */
function deadLetterId(partitionId: string, sequenceNumber: number, slot: string): string {
  return `${partitionId}:${sequenceNumber}:${slot}`;
}

function equipmentIdOf(raw: string): string | null {
  try {
    const parsed: unknown = JSON.parse(raw);
    const id = (parsed as { equipmentId?: unknown } | null)?.equipmentId;
    // File it where an admin looking for that equipment will search: devices sometimes send
    // the API's numeric id as a number.
    if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return String(id);
    return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : null;
  } catch {
    return null;
  }
}

/**
 * Applies a batch to a partition's state. Returns the new state (not yet committed), the
 * batch's partial (null when nothing new was accepted) and its dead letters.
 */
export function applyBatch(
  state: PartitionState,
  events: readonly PartitionEvent[],
  settings: PipelineSettings,
): {
  state: PartitionState;
  partial: BatchPartial | null;
  deadLetters: DeadLetter[];
  skipped: number;
} {
  const fresh = [...events]
    .filter((event) => event.sequenceNumber > state.lastSequenceNumber)
    .sort((a, b) => a.sequenceNumber - b.sequenceNumber)
    .filter(
      (event, i, sorted) => i === 0 || sorted[i - 1]?.sequenceNumber !== event.sequenceNumber,
    );
  const skipped = events.length - fresh.length;
  const first = fresh[0];
  const last = fresh.at(-1);
  if (!first || !last) return { state, partial: null, deadLetters: [], skipped };

  const entries = new Map<string, PartialEntry>();
  const deadLetters: DeadLetter[] = [];
  let { maxEventTime, closedBefore } = state;

  for (const event of fresh) {
    const enqueuedTime = new Date(event.enqueuedTimeMs).toISOString();
    const letter = (
      reason: DeadLetterReason,
      slot: string,
      details: Pick<DeadLetter, 'issues' | 'raw' | 'rawTruncated' | 'index' | 'equipmentId'>,
    ) => {
      deadLetters.push({
        id: deadLetterId(state.partitionId, event.sequenceNumber, slot),
        reason,
        partitionId: state.partitionId,
        sequenceNumber: event.sequenceNumber,
        enqueuedTime,
        ...details,
      });
    };
    const { readings, rejections } = parseEventBody(event.body, {
      enqueuedTimeMs: event.enqueuedTimeMs,
      futureToleranceMs: settings.futureToleranceMs,
    });
    for (const rejection of rejections) {
      letter(rejection.reason, String(rejection.index ?? 'event'), {
        issues: rejection.issues,
        raw: rejection.raw,
        rawTruncated: rejection.rawTruncated,
        index: rejection.index,
        equipmentId: equipmentIdOf(rejection.raw),
      });
    }
    readings.forEach((reading, position) => {
      const windowStart = windowStartOf(reading.timestamp);
      if (windowEndOf(windowStart) <= closedBefore) {
        const raw = JSON.stringify(reading);
        letter('late', `late-${position}`, {
          issues: [
            {
              path: '/timestamp',
              message: `Window ${new Date(windowStart).toISOString()} closed at ${new Date(closedBefore).toISOString()}`,
            },
          ],
          raw,
          rawTruncated: false,
          index: null,
          equipmentId: reading.equipmentId,
        });
        return;
      }
      const key = `${reading.equipmentId}\u0000${windowStart}`;
      const entry = entries.get(key);
      if (entry) {
        entry.stats = addReading(entry.stats, reading);
        if (reading.timestamp >= entry.latest.timestamp) entry.latest = reading;
      } else {
        entries.set(key, {
          equipmentId: reading.equipmentId,
          windowStart,
          stats: addReading(emptyStats(), reading),
          latest: reading,
        });
      }
      // The watermark trusts a reading's clock only up to when its event was enqueued: a
      // device running a few minutes fast (within the future tolerance) must not close
      // every other device's windows early.
      const eventTime = Math.min(reading.timestamp, event.enqueuedTimeMs);
      maxEventTime = maxEventTime === null ? eventTime : Math.max(maxEventTime, eventTime);
      closedBefore = Math.max(closedBefore, maxEventTime - settings.allowedLatenessMs);
    });
  }

  const partial: BatchPartial | null = entries.size
    ? {
        id: partialId(state.partitionId, first.sequenceNumber, last.sequenceNumber),
        partitionId: state.partitionId,
        firstSequenceNumber: first.sequenceNumber,
        lastSequenceNumber: last.sequenceNumber,
        entries: [...entries.values()].sort(
          (a, b) => a.windowStart - b.windowStart || a.equipmentId.localeCompare(b.equipmentId),
        ),
      }
    : null;
  const pending = partial
    ? [
        ...state.pending,
        { id: partial.id, windows: [...new Set(partial.entries.map((e) => e.windowStart))] },
      ]
    : state.pending;
  return {
    state: {
      ...state,
      lastSequenceNumber: last.sequenceNumber,
      maxEventTime,
      closedBefore,
      pending,
    },
    partial,
    deadLetters,
    skipped,
  };
}

/**
 * Closes windows by the wall clock for a partition that went quiet: a window whose end plus
 * the allowed lateness plus an idle grace has passed is closed even without newer events.
 */
export function advanceByClock(
  state: PartitionState,
  nowMs: number,
  settings: PipelineSettings,
  idleGraceMs: number,
) {
  const closedBefore = Math.max(
    state.closedBefore,
    nowMs - settings.allowedLatenessMs - idleGraceMs,
  );
  return closedBefore === state.closedBefore ? state : { ...state, closedBefore };
}

/** Windows that are closed but not yet emitted, oldest first, with the partials holding them. */
export function dueWindows(state: PartitionState): { windowStart: number; partialIds: string[] }[] {
  const due = new Map<number, string[]>();
  for (const partial of state.pending) {
    for (const windowStart of partial.windows) {
      if (windowEndOf(windowStart) > state.closedBefore) continue;
      const ids = due.get(windowStart) ?? [];
      ids.push(partial.id);
      due.set(windowStart, ids);
    }
  }
  return [...due.entries()]
    .sort(([a], [b]) => a - b)
    .map(([windowStart, partialIds]) => ({ windowStart, partialIds }));
}

/** The state after `windowStarts` were emitted: they leave the pending list. */
export function markEmitted(
  state: PartitionState,
  windowStarts: readonly number[],
): PartitionState {
  const emitted = new Set(windowStarts);
  const pending = state.pending
    .map((partial) => ({ ...partial, windows: partial.windows.filter((w) => !emitted.has(w)) }))
    .filter((partial) => partial.windows.length > 0);
  return { ...state, pending };
}

/** Folds the entries of one window across partials: one `WindowStats` per equipment. */
export function mergeWindow(
  partials: readonly BatchPartial[],
  windowStart: number,
): Map<string, WindowStats> {
  const merged = new Map<string, WindowStats>();
  for (const partial of partials) {
    for (const entry of partial.entries) {
      if (entry.windowStart !== windowStart) continue;
      merged.set(
        entry.equipmentId,
        mergeStats(merged.get(entry.equipmentId) ?? emptyStats(), entry.stats),
      );
    }
  }
  return merged;
}
