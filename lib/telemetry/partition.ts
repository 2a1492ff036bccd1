/**
 * The per-partition fold, as pure functions: the processor reads a partition's state, applies
 * a batch, writes what this returns, and commits the new state under an ETag precondition.
 *
 * Why it is exactly-once: an Event Hubs partition is an ordered log, and the state records the
 * highest sequence number whose effects are committed. Events at or below it are skipped, so
 * a redelivered batch, or a stretch of the stream replayed after a crash, changes nothing.
 * Everything else is decided per event in sequence order (the watermark, whether a reading is
 * late, whether the hub started a new epoch), so the outcome does not depend on how the host
 * splits the stream into batches. A
 * batch's accepted readings are written once, as one partial document keyed by its sequence
 * range, and only partials the committed state lists are ever merged, so the partial of an
 * attempt that crashed before committing is ignored. Sums are exact integers, so merging in
 * any order gives the same aggregates.
 */
import {
  parseEventBody,
  parseEventBodyInto,
  type Reading,
  type Rejection,
  type RejectionIssue,
  type RejectionReason,
} from './reading.js';
import {
  accumulateReading,
  accumulateStats,
  copyStats,
  statsOfReading,
  type WindowStats,
} from './stats.js';
import { windowEndOf, windowSizeMs, windowStartOf } from './window.js';

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

/**
 * A point where the partition's sequence numbers started again (see {@link applyBatch}): the
 * hub was recreated under the same name, the app failed over to another namespace, or a
 * namespace was restored.
 */
export interface EpochChange {
  /** The epoch that started. */
  epoch: number;
  /** Enqueued time of its first event (ISO 8601). */
  startedAt: string;
  /** Its first event's sequence number: the new high-water mark. */
  firstSequenceNumber: number;
  /** The high-water mark and newest enqueued time of the epoch before. */
  previousLastSequenceNumber: number;
  previousLastEnqueuedTime: string;
}

/** How many epoch changes a state keeps (they are rare; the newest matter). */
export const maxEpochHistory = 20;

/** What a partition's processing has committed. */
export interface PartitionState {
  partitionId: string;
  /**
   * Which run of sequence numbers the high-water mark belongs to: 0 until the hub's numbering
   * starts again (documents written before epochs existed have none, and are epoch 0).
   */
  epoch: number;
  /** Highest sequence number whose effects are committed; -1 before the first event. */
  lastSequenceNumber: number;
  /**
   * Newest enqueued time (epoch ms) among the committed events, or null before the first
   * (and in documents written before it was recorded, until their next batch).
   */
  lastEnqueuedTimeMs: number | null;
  /** Every epoch change, oldest first, at most {@link maxEpochHistory}. */
  epochs: EpochChange[];
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

/** Why a reading was dead-lettered: a parse rejection, or a valid reading the fold refused. */
export type DeadLetterReason = RejectionReason | 'late' | 'unregistered';

/** One rejected reading (or a whole unreadable body) inside an event's dead letter. */
export interface DeadLetterRejection {
  /** Position in an array body, or null (a single reading, a whole body, a late reading). */
  index: number | null;
  reason: DeadLetterReason;
  /** The reading's equipment id when it is readable, else null. */
  equipmentId: string | null;
  issues: RejectionIssue[];
  /** The reading's JSON text (at most 4 KiB each), or null when the letter's raw budget ran out. */
  raw: string | null;
  rawTruncated: boolean;
}

/**
 * Everything rejected from one event, as one document: a 40 KB array of bad readings is one
 * write, not 500. Bounded in size: see {@link deadLetterLimits}.
 */
export interface DeadLetter {
  /** `{partition}:{sequence}` (epoch 0) or `{partition}:e{epoch}:{sequence}`: redelivery overwrites. */
  id: string;
  /** The first readable equipment id among the rejected readings, else {@link unknownEquipmentId}. */
  equipmentId: string;
  /** Distinct readable equipment ids of the rejected readings, in order, at most {@link deadLetterLimits}.equipmentIds. */
  equipmentIds: string[];
  /** The first rejection's reason. */
  reason: DeadLetterReason;
  /** Distinct reasons, in order. */
  reasons: DeadLetterReason[];
  partitionId: string;
  sequenceNumber: number;
  enqueuedTime: string;
  /** The rejections kept, in order: parse rejections, then late and unregistered readings. */
  rejections: DeadLetterRejection[];
  /** How many readings (or whole bodies) the event lost, kept or not. */
  rejectedCount: number;
  /** Rejections left out of `rejections` to keep the document bounded. */
  omittedCount: number;
}

/** Equipment id under which dead letters without a readable one are filed. */
export const unknownEquipmentId = '(unknown)';

/**
 * Bounds of one dead letter, far under Cosmos' 2 MB item limit: raw text beyond `rawBytes`
 * is dropped (issues kept), and rejections beyond `detailBytes` of everything else are left
 * out and counted in `omittedCount`.
 */
export const deadLetterLimits = { rawBytes: 64 * 1024, detailBytes: 128 * 1024, equipmentIds: 100 };

export function initialPartitionState(partitionId: string): PartitionState {
  return {
    partitionId,
    epoch: 0,
    lastSequenceNumber: -1,
    lastEnqueuedTimeMs: null,
    epochs: [],
    maxEventTime: null,
    closedBefore: 0,
    pending: [],
  };
}

/**
 * A stored state as the fold expects it: documents written before epochs existed lack
 * `epoch`, `lastEnqueuedTimeMs` and `epochs`, and are epoch 0 with no enqueued time known.
 */
/** A state document as stored: older ones lack the epoch fields. */
export type StoredPartitionState = Omit<PartitionState, 'epoch' | 'lastEnqueuedTimeMs' | 'epochs'> &
  Partial<Pick<PartitionState, 'epoch' | 'lastEnqueuedTimeMs' | 'epochs'>>;

export function partitionStateFrom(stored: StoredPartitionState): PartitionState {
  return {
    ...stored,
    epoch: stored.epoch ?? 0,
    lastEnqueuedTimeMs: stored.lastEnqueuedTimeMs ?? null,
    epochs: stored.epochs ?? [],
  };
}

/**
 * Ids derived from sequence numbers carry the epoch once it is past 0, so a new epoch's
 * documents never overwrite the old epoch's; epoch 0 keeps the format ids always had.
 */
function sequencePrefix(partitionId: string, epoch: number): string {
  return epoch === 0 ? partitionId : `${partitionId}:e${epoch}`;
}

export function partialId(partitionId: string, first: number, last: number, epoch = 0): string {
  return `${sequencePrefix(partitionId, epoch)}:${first}-${last}`;
}

export function deadLetterId(partitionId: string, sequenceNumber: number, epoch = 0): string {
  return `${sequencePrefix(partitionId, epoch)}:${sequenceNumber}`;
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

/** What {@link applyBatch} needs besides the state and the events. */
export interface BatchContext {
  /**
   * Whether an equipment id names a registered machine. Readings of any other id are
   * dead-lettered as `unregistered`: never aggregated, never alerting. Default: every id.
   */
  isRegistered?: (equipmentId: string) => boolean;
  /** The events' bodies already parsed by {@link parseEvents} (saves parsing them again). */
  parsed?: ReadonlyMap<PartitionEvent, ParsedBody>;
}

/** What {@link parseEventBody} makes of one event's body. */
export type ParsedBody = ReturnType<typeof parseEventBody>;

/** Parses every event's body once; pure, and independent of any partition state. */
export function parseEvents(
  events: readonly PartitionEvent[],
  settings: PipelineSettings,
): Map<PartitionEvent, ParsedBody> {
  return new Map(
    events.map((event) => [
      event,
      parseEventBody(event.body, {
        enqueuedTimeMs: event.enqueuedTimeMs,
        futureToleranceMs: settings.futureToleranceMs,
      }),
    ]),
  );
}

/** Equipment ids of the valid readings among `parsed` (what a registry is asked about). */
export function equipmentIdsOf(parsed: ReadonlyMap<PartitionEvent, ParsedBody>): string[] {
  const ids = new Set<string>();
  for (const { readings } of parsed.values()) for (const r of readings) ids.add(r.equipmentId);
  return [...ids];
}

const utf8 = new TextEncoder();

/** One dead letter for everything `event` lost, bounded by {@link deadLetterLimits}. */
function deadLetterOf(
  partitionId: string,
  epoch: number,
  event: PartitionEvent,
  all: readonly DeadLetterRejection[],
): DeadLetter {
  const equipmentIds = [
    ...new Set(all.flatMap((r) => (r.equipmentId === null ? [] : [r.equipmentId]))),
  ];
  const rejections: DeadLetterRejection[] = [];
  let rawBytes = 0;
  let detailBytes = 0;
  let rawFull = false;
  for (const rejection of all) {
    const detail = utf8.encode(JSON.stringify({ ...rejection, raw: null })).length;
    if (detailBytes + detail > deadLetterLimits.detailBytes) continue; // counted as omitted
    detailBytes += detail;
    const raw = rejection.raw === null ? 0 : utf8.encode(rejection.raw).length;
    // Once the raw budget is spent, later readings keep their issues but not their text, so
    // what an admin sees is always a prefix of the event.
    rawFull ||= rawBytes + raw > deadLetterLimits.rawBytes;
    if (rawFull) rejections.push({ ...rejection, raw: null, rawTruncated: true });
    else {
      rawBytes += raw;
      rejections.push(rejection);
    }
  }
  const first = all[0];
  return {
    id: deadLetterId(partitionId, event.sequenceNumber, epoch),
    equipmentId: equipmentIds[0] ?? unknownEquipmentId,
    equipmentIds: equipmentIds.slice(0, deadLetterLimits.equipmentIds),
    reason: first?.reason ?? 'invalid',
    reasons: [...new Set(all.map((r) => r.reason))],
    partitionId,
    sequenceNumber: event.sequenceNumber,
    enqueuedTime: new Date(event.enqueuedTimeMs).toISOString(),
    rejections,
    rejectedCount: all.length,
    omittedCount: all.length - rejections.length,
  };
}

/** A valid reading the fold refused, as a dead-letter rejection (its JSON as raw text). */
function refused(reading: Reading, reason: DeadLetterReason, issue: RejectionIssue) {
  return {
    index: null,
    reason,
    equipmentId: reading.equipmentId,
    issues: [issue],
    raw: JSON.stringify(reading),
    rawTruncated: false,
  } satisfies DeadLetterRejection;
}

/**
 * Applies a batch to a partition's state. Returns the new state (not yet committed), the
 * batch's partial (null when nothing new was accepted), its dead letters (at most one per
 * event) and the epochs it started.
 *
 * Which events are new is decided per event, in sequence order, against the high-water mark
 * as it stands after the events before it, so it does not depend on where batches are cut:
 * - above the mark: new;
 * - at or below it, enqueued no later than the newest committed enqueued time: already
 *   processed (a redelivery carries the same sequence number and the same enqueued time);
 * - at or below it but enqueued later than anything committed: Event Hubs never reuses a
 *   sequence number within a partition's log, and enqueued times grow with it, so the
 *   numbering started again (hub recreated, failover to another namespace, restore). The
 *   partition starts a new epoch at this event and goes on from it.
 * A new epoch keeps the watermark, closed windows and pending partials: event time does not
 * restart with the hub, so a window open across the switch collects both epochs' readings,
 * and a reading for a window closed before the switch is late, as it would have been.
 */
export function applyBatch(
  state: PartitionState,
  events: readonly PartitionEvent[],
  settings: PipelineSettings,
  context: BatchContext = {},
): {
  state: PartitionState;
  partial: BatchPartial | null;
  /** Readings folded into the partial (the sum of its entries' `stats.readings`). */
  readings: number;
  deadLetters: DeadLetter[];
  skipped: number;
  epochsStarted: EpochChange[];
} {
  const ordered = inSequenceOrder(events);
  let { epoch, lastSequenceNumber, lastEnqueuedTimeMs } = state;
  const epochsStarted: EpochChange[] = [];
  /** The new events, and the epoch each belongs to (parallel arrays: no object per event). */
  const fresh: PartitionEvent[] = [];
  const freshEpochs: number[] = [];
  // Every event of the current epoch was enqueued after the previous epoch's newest one.
  const current = state.epochs.at(-1);
  let epochFloorMs =
    state.epoch > 0 && current ? Date.parse(current.previousLastEnqueuedTime) : null;
  for (const event of ordered) {
    if (epochFloorMs !== null && event.enqueuedTimeMs <= epochFloorMs) {
      // An older epoch's event (an instance still reading the old hub): its number may lie
      // above the new mark, but its effects, if any, belong to the old epoch.
      continue;
    }
    if (event.sequenceNumber <= lastSequenceNumber) {
      // Without a recorded enqueued time (a state from before epochs), nothing can be told
      // apart from a redelivery: skip, as before, until the next new event records one.
      if (lastEnqueuedTimeMs === null || event.enqueuedTimeMs <= lastEnqueuedTimeMs) continue;
      epoch += 1;
      epochsStarted.push({
        epoch,
        startedAt: new Date(event.enqueuedTimeMs).toISOString(),
        firstSequenceNumber: event.sequenceNumber,
        previousLastSequenceNumber: lastSequenceNumber,
        previousLastEnqueuedTime: new Date(lastEnqueuedTimeMs).toISOString(),
      });
      epochFloorMs = lastEnqueuedTimeMs;
    }
    fresh.push(event);
    freshEpochs.push(epoch);
    lastSequenceNumber = event.sequenceNumber;
    lastEnqueuedTimeMs = Math.max(lastEnqueuedTimeMs ?? event.enqueuedTimeMs, event.enqueuedTimeMs);
  }
  const skipped = events.length - fresh.length;
  const first = fresh[0];
  const last = fresh.at(-1);
  if (!first || !last) {
    return { state, partial: null, readings: 0, deadLetters: [], skipped, epochsStarted };
  }

  const isRegistered = context.isRegistered ?? (() => true);
  // The accepted readings in sequence order, with their windows: folded into entries at the
  // end (see entriesOf).
  const accepted: Reading[] = [];
  const acceptedWindows: number[] = [];
  const deadLetters: DeadLetter[] = [];
  let { maxEventTime, closedBefore } = state;

  // Reused for every event parsed here, rather than new arrays per event.
  const ownReadings: Reading[] = [];
  const ownRejections: Rejection[] = [];
  const parseOptions = { enqueuedTimeMs: 0, futureToleranceMs: settings.futureToleranceMs };
  for (let e = 0; e < fresh.length; e++) {
    const event = fresh[e] as PartitionEvent;
    let readings: readonly Reading[];
    let rejections: readonly Rejection[];
    const parsed = context.parsed?.get(event);
    let readingsFrom = 0;
    let rejectionsFrom = 0;
    if (parsed) ({ readings, rejections } = parsed);
    else {
      // This event's part of the arrays starts where the previous event's ended (cheaper
      // than emptying them each time).
      readingsFrom = ownReadings.length;
      rejectionsFrom = ownRejections.length;
      parseOptions.enqueuedTimeMs = event.enqueuedTimeMs;
      parseEventBodyInto(event.body, parseOptions, ownReadings, ownRejections);
      readings = ownReadings;
      rejections = ownRejections;
    }
    // Made only for an event that loses something (most lose nothing).
    let lost: DeadLetterRejection[] | undefined;
    for (let r = rejectionsFrom; r < rejections.length; r++) {
      const rejection = rejections[r] as Rejection;
      (lost ??= []).push({
        index: rejection.index,
        reason: rejection.reason,
        equipmentId: equipmentIdOf(rejection.raw),
        issues: rejection.issues,
        raw: rejection.raw,
        rawTruncated: rejection.rawTruncated,
      });
    }
    for (let r = readingsFrom; r < readings.length; r++) {
      const reading = readings[r] as Reading;
      // Nobody can see an unregistered machine's telemetry or alerts: it is not folded, and
      // it does not move the watermark (an unknown sender must not close anyone's windows).
      if (!isRegistered(reading.equipmentId)) {
        (lost ??= []).push(
          refused(reading, 'unregistered', {
            path: '/equipmentId',
            message: `No equipment with id ${reading.equipmentId} is registered`,
          }),
        );
        continue;
      }
      const windowStart = windowStartOf(reading.timestamp);
      if (windowStart + windowSizeMs <= closedBefore) {
        (lost ??= []).push(
          refused(reading, 'late', {
            path: '/timestamp',
            message: `Window ${new Date(windowStart).toISOString()} closed at ${new Date(closedBefore).toISOString()}`,
          }),
        );
        continue;
      }
      accepted.push(reading);
      acceptedWindows.push(windowStart);
      // The watermark trusts a reading's clock only up to when its event was enqueued: a
      // device running a few minutes fast (within the future tolerance) must not close
      // every other device's windows early.
      const eventTime = Math.min(reading.timestamp, event.enqueuedTimeMs);
      maxEventTime = maxEventTime === null ? eventTime : Math.max(maxEventTime, eventTime);
      closedBefore = Math.max(closedBefore, maxEventTime - settings.allowedLatenessMs);
    }
    if (lost) {
      deadLetters.push(deadLetterOf(state.partitionId, freshEpochs[e] ?? epoch, event, lost));
    }
  }

  const { entries, windows } = entriesOf(accepted, acceptedWindows);
  const partial: BatchPartial | null = entries.length
    ? {
        // The epoch the batch ends in: its last event identifies the partial uniquely.
        id: partialId(state.partitionId, first.sequenceNumber, last.sequenceNumber, epoch),
        partitionId: state.partitionId,
        firstSequenceNumber: first.sequenceNumber,
        lastSequenceNumber: last.sequenceNumber,
        entries,
      }
    : null;
  const pending = partial ? [...state.pending, { id: partial.id, windows }] : state.pending;
  return {
    state: {
      ...state,
      epoch,
      lastSequenceNumber,
      lastEnqueuedTimeMs,
      epochs: [...state.epochs, ...epochsStarted].slice(-maxEpochHistory),
      maxEventTime,
      closedBefore,
      pending,
    },
    partial,
    readings: accepted.length,
    deadLetters,
    skipped,
    epochsStarted,
  };
}

/**
 * The events by sequence number (then enqueued time). The host hands a batch over in order, so
 * this is usually the array itself: checked in one pass rather than copied and sorted.
 */
function inSequenceOrder(events: readonly PartitionEvent[]): readonly PartitionEvent[] {
  const before = (a: PartitionEvent, b: PartitionEvent) =>
    a.sequenceNumber - b.sequenceNumber || a.enqueuedTimeMs - b.enqueuedTimeMs;
  for (let i = 1; i < events.length; i++) {
    if (before(events[i - 1] as PartitionEvent, events[i] as PartitionEvent) > 0) {
      return [...events].sort(before);
    }
  }
  return events;
}

/**
 * Code-point order of equipment ids: the same on every machine and locale, and far cheaper
 * than `localeCompare` (a CPU profile of bench/metrics/ingestCore.ts showed the sort).
 */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A batch's accepted readings (in sequence order, each with its window start) folded per window
 * and equipment: the entries by window start, then equipment id, and the distinct windows in
 * order. One stable sort of the readings' positions puts each entry's readings next to each
 * other, still in sequence order, so they fold exactly as one pass in order would (a tie for
 * `latest` goes to the later reading). It replaces a map per window, whose lookups hashed every
 * reading's fresh id string (a CPU profile of bench/metrics/ingestCore.ts), and the sort of the
 * entries that came after it.
 */
function entriesOf(
  readings: readonly Reading[],
  windowStarts: readonly number[],
): { entries: PartialEntry[]; windows: number[] } {
  const order: number[] = [];
  for (let i = 0; i < readings.length; i++) order.push(i);
  order.sort(
    (i, j) =>
      (windowStarts[i] as number) - (windowStarts[j] as number) ||
      compareIds((readings[i] as Reading).equipmentId, (readings[j] as Reading).equipmentId) ||
      i - j,
  );
  const entries: PartialEntry[] = [];
  const windows: number[] = [];
  let entry: PartialEntry | undefined;
  for (const i of order) {
    const reading = readings[i] as Reading;
    const windowStart = windowStarts[i] as number;
    if (entry?.windowStart === windowStart && entry.equipmentId === reading.equipmentId) {
      // The entry's stats are this fold's own until the partial is returned.
      entry.stats = accumulateReading(entry.stats, reading);
      if (reading.timestamp >= entry.latest.timestamp) entry.latest = reading;
      continue;
    }
    if (entry?.windowStart !== windowStart) windows.push(windowStart);
    entry = {
      equipmentId: reading.equipmentId,
      windowStart,
      stats: statsOfReading(reading),
      latest: reading,
    };
    entries.push(entry);
  }
  return { entries, windows };
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
      const held = merged.get(entry.equipmentId);
      // The first contribution is copied, so later merges may change the copy in place and
      // never the partial's own stats; the map is written again only when the merge had to
      // make a new aggregate (a metric the copy lacked).
      if (held === undefined) merged.set(entry.equipmentId, copyStats(entry.stats));
      else {
        const accumulated = accumulateStats(held, entry.stats);
        if (accumulated !== held) merged.set(entry.equipmentId, accumulated);
      }
    }
  }
  return merged;
}
