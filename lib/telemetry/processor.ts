/**
 * Runs the partition fold against a store: read the partition's state, apply the batch,
 * write the batch's partial and dead letters, emit every window the watermark closed
 * (aggregates, then alerts), and commit the new state under its ETag. Losing the commit
 * race (another instance owns the partition for a moment) means re-reading and redoing:
 * everything written before the commit is deterministic and idempotent, so the redo, or the
 * other instance, writes the same documents.
 */
import {
  applyBreach,
  applyCalm,
  applyClearance,
  defaultHysteresis,
  type Alert,
  type AlertMetric,
  type AlertSlot,
  type Hysteresis,
} from './alerts.js';
import {
  advanceByClock,
  applyBatch,
  equipmentIdsOf,
  initialPartitionState,
  dueWindows,
  markEmitted,
  mergeWindow,
  compareIds,
  parseEvents,
  type BatchPartial,
  type DeadLetter,
  type EpochChange,
  type PartitionEvent,
  type PartitionState,
  type PipelineSettings,
} from './partition.js';
import { recordWindowsEmitted } from '../observability/instruments.js';
import type { HubProbe } from './hubProbe.js';
import { presenceOf, type Presence } from './offline.js';
import type { ParkedBatch } from './parking.js';
import { metricNames } from './reading.js';
import { clearThresholdOf, gradeWindow, type ResolvedSeverityRules } from './severity.js';
import { suppressionOf, type SilenceRule } from './silences.js';
import { emptyStats, meansOf, mergeStats, summarize, type WindowStats } from './stats.js';
import { windowEndOf } from './window.js';

/**
 * One equipment's closed window: the historical series. One equipment's readings can arrive
 * on several Event Hubs partitions (a gateway sending arrays, a wrong partition key, a
 * partition-count change); each partition closes the window on its own and merges its
 * contribution into this one document, so none overwrites another's.
 */
export interface WindowAggregate {
  /** `{equipmentId}:{window start ISO}` */
  id: string;
  equipmentId: string;
  windowStart: string;
  windowEnd: string;
  /** A partition that contributed (the lowest contribution key's); usually the only one. */
  partitionId: string;
  /** Of all contributions together. */
  summary: ReturnType<typeof summarize>;
  /** Exact sums of all contributions, so aggregates can be re-merged without rounding drift. */
  stats: WindowStats;
  /** Each partition's own stats, by {@link contributionKey}; `stats` is their merge. */
  contributions: Record<string, WindowStats>;
}

/** One partition's readings of one equipment in one closed window. */
export interface AggregateContribution {
  equipmentId: string;
  windowStart: number;
  partitionId: string;
  /** {@link contributionKey} of the partition state that emitted it. */
  key: string;
  stats: WindowStats;
}

/**
 * Whose readings a contribution holds: the partition. A partition emits each window once,
 * with every partial it holds for it, whatever epochs those came from (the watermark and the
 * pending windows carry over into a new epoch, and a window once emitted takes no more
 * readings), so re-emitting (a redo, even one that happens after an epoch started) rewrites
 * the same entry rather than adding a second one.
 */
export function contributionKey(state: PartitionState): string {
  return state.partitionId;
}

export function aggregateId(equipmentId: string, windowStart: number): string {
  return `${equipmentId}:${new Date(windowStart).toISOString()}`;
}

/**
 * `current` (absent: none stored yet) with `contribution` merged in; unchanged when it holds
 * exactly that contribution already. Stats are exact integer sums, so the merge of all
 * contributions is the aggregate one partition would have built from all the readings.
 */
export function mergeContribution(
  current: WindowAggregate | undefined,
  contribution: AggregateContribution,
): { aggregate: WindowAggregate; changed: boolean } {
  const existing = current?.contributions;
  const same = existing?.[contribution.key];
  if (current && same && JSON.stringify(same) === JSON.stringify(contribution.stats)) {
    return { aggregate: current, changed: false };
  }
  const contributions: Record<string, WindowStats> = {
    ...existing,
    [contribution.key]: contribution.stats,
  };
  const keys = Object.keys(contributions).sort();
  const stats = keys.reduce(
    (sum, key) => mergeStats(sum, contributions[key] ?? emptyStats()),
    emptyStats(),
  );
  const { windowStart, equipmentId } = contribution;
  const aggregate: WindowAggregate = {
    id: aggregateId(equipmentId, windowStart),
    equipmentId,
    windowStart: new Date(windowStart).toISOString(),
    windowEnd: new Date(windowEndOf(windowStart)).toISOString(),
    // The lowest contribution key's partition: the same whichever partition merged first.
    partitionId: (keys[0] ?? contribution.key).replace(/@\d+$/, ''),
    summary: summarize(stats),
    stats,
    contributions: Object.fromEntries(keys.map((key) => [key, contributions[key] ?? emptyStats()])),
  };
  return { aggregate, changed: true };
}

/** Where the pipeline keeps its state; `lib/telemetry/cosmosStore.ts` is the real one. */
export interface TelemetryStore {
  readState(
    partitionId: string,
  ): Promise<{ state: PartitionState | undefined; etag: string | undefined }>;
  /** Every partition's state (for the idle-window timer). */
  listStates(): Promise<{ state: PartitionState; etag: string }[]>;
  /**
   * Writes `state` if the stored one still has `etag` (absent: must not exist yet). Returns
   * the new ETag, or undefined when another writer got there first.
   */
  commitState(state: PartitionState, etag: string | undefined): Promise<string | undefined>;
  writePartial(partial: BatchPartial): Promise<void>;
  readPartials(partitionId: string, ids: readonly string[]): Promise<BatchPartial[]>;
  writeDeadLetters(letters: readonly DeadLetter[]): Promise<void>;
  /**
   * Keeps a batch the trigger could not read as dead-letter documents (lib/telemetry/parking).
   * Idempotent: parking the same batch again overwrites. Returns the ids written.
   */
  parkBatch(batch: ParkedBatch): Promise<string[]>;
  /**
   * Merges each contribution into its window's aggregate (read-modify-write under the
   * document's ETag) and returns the aggregates as they now stand, in order. Writes nothing
   * for a contribution the aggregate already holds.
   */
  writeAggregates(contributions: readonly AggregateContribution[]): Promise<WindowAggregate[]>;
  /**
   * The alert with the newest window for this equipment and metric, any status, by query.
   * Used only where no slot exists yet, to adopt an alert written before slots existed.
   */
  latestAlert(
    equipmentId: string,
    metric: AlertMetric,
  ): Promise<{ alert: Alert; etag: string } | undefined>;
  /**
   * Equipment and metric of every open or acknowledged alert of `equipmentIds`, and of those
   * cleared by the window `regradedWindowStart` (which another partition's readings may take
   * back), by one query: a closing window reads alerts for hysteresis only where there is
   * something to clear.
   */
  unresolvedAlerts(
    equipmentIds: readonly string[],
    regradedWindowStart?: string,
  ): Promise<{ equipmentId: string; metric: AlertMetric }[]>;
  readAlert(
    equipmentId: string,
    alertId: string,
  ): Promise<{ alert: Alert; etag: string } | undefined>;
  /** The slot naming the current alert of this equipment and metric (see {@link AlertSlot}). */
  readAlertSlot(
    equipmentId: string,
    metric: AlertMetric,
  ): Promise<{ slot: AlertSlot; etag: string } | undefined>;
  /** Creates (etag undefined) or moves (etag given) the slot. False on a lost race. */
  claimAlertSlot(
    equipmentId: string,
    metric: AlertMetric,
    slot: AlertSlot,
    etag: string | undefined,
  ): Promise<boolean>;
  /** Creates (etag undefined) or replaces (etag given) an alert. False on a lost race. */
  writeAlert(alert: Alert, etag: string | undefined): Promise<boolean>;
}

/** The part of the store that opens and folds alerts through their slots. */
export type AlertSlotStore = Pick<
  TelemetryStore,
  'readAlertSlot' | 'readAlert' | 'claimAlertSlot' | 'writeAlert' | 'latestAlert'
>;

/** Severity rules for each equipment id (per-type overrides resolved by the caller). */
export type RulesLookup = (
  equipmentIds: readonly string[],
) => Promise<(equipmentId: string) => ResolvedSeverityRules>;

/**
 * Which equipment ids are in `Maintenance` (MySQL equipment.status), asked once per emission
 * for the equipment whose windows close: their alerts are written suppressed.
 */
export type MaintenanceLookup = (
  equipmentIds: readonly string[],
) => Promise<(equipmentId: string) => boolean>;

/**
 * The silences that may hold alerts of each equipment id (lib/telemetry/silences.ts), asked
 * once per emission for the equipment whose windows close.
 */
export type SilenceLookup = (
  equipmentIds: readonly string[],
  /** End of the closing window (epoch ms): silences that ended by then are not needed. */
  windowEnd: number,
) => Promise<(equipmentId: string) => readonly SilenceRule[]>;

/**
 * What happens after the pipeline has committed something: the alert fan-out and the live
 * equipment status (lib/fanout). Implementations never throw: delivery owed is kept in the
 * alert documents, and a failure here must not fail or redo a committed batch.
 */
export interface PipelineFanOut {
  /** Alerts just written (each carries its delivery duty). */
  alertsWritten(alerts: readonly Alert[]): Promise<void>;
  /** A batch's partial and the state that lists it, just committed. */
  batchCommitted(state: PartitionState, partial: BatchPartial): Promise<void>;
}

/**
 * Which equipment ids name registered machines: given a batch's ids, a predicate over them.
 * Throws when it cannot tell (MySQL unreachable): the batch fails and is retried, rather than
 * every reading being dead-lettered.
 */
export type RegistryLookup = (
  equipmentIds: readonly string[],
) => Promise<(equipmentId: string) => boolean>;

export interface ProcessorOptions {
  store: TelemetryStore;
  settings: PipelineSettings;
  rules: RulesLookup;
  /** How alerts clear by themselves and reopen. Default: {@link defaultHysteresis}. */
  hysteresis?: Hysteresis | undefined;
  /** Equipment whose alerts are suppressed. Default: none. */
  maintenance?: MaintenanceLookup | undefined;
  /** Silences holding alerts (after maintenance, which takes precedence). Default: none. */
  silences?: SilenceLookup | undefined;
  /** Readings of ids it rejects are dead-lettered as `unregistered`. Default: every id. */
  registry?: RegistryLookup | undefined;
  fanOut?: PipelineFanOut | undefined;
  /**
   * Records which equipment a batch carried readings of (lib/telemetry/offlineDetector.ts),
   * once its effects are committed. Default: nothing is recorded (no offline detection).
   */
  presence?: ((partitionId: string, presence: Presence) => Promise<void>) | undefined;
  /** How often to redo after losing a commit race before giving up. */
  maxAttempts?: number;
}

export interface BatchOutcome {
  accepted: boolean;
  skippedEvents: number;
  deadLetters: number;
  /** Readings folded into windows by this batch. */
  readings: number;
  /** Readings (or whole bodies) dead-lettered by this batch, by reason. */
  deadLettersByReason: Record<string, number>;
  /** The partition's largest accepted event time after the batch (null: none yet). */
  watermarkMs: number | null;
  windowsClosed: number;
  aggregatesWritten: number;
  alertsWritten: number;
  attempts: number;
  /** Epochs this batch started (the hub's sequence numbers began again); see applyBatch. */
  epochsStarted: EpochChange[];
}

/**
 * Rejected readings by reason. A letter keeps a bounded number of its rejections; those left
 * out are counted under the letter's first reason.
 */
export function rejectionsByReason(
  letters: readonly Pick<DeadLetter, 'reason' | 'rejections' | 'rejectedCount'>[],
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const letter of letters) {
    for (const rejection of letter.rejections) {
      counts[rejection.reason] = (counts[rejection.reason] ?? 0) + 1;
    }
    const untold = letter.rejectedCount - letter.rejections.length;
    if (untold > 0) counts[letter.reason] = (counts[letter.reason] ?? 0) + untold;
  }
  return counts;
}

/** Thrown when another instance keeps winning the partition; the batch is safe to redeliver. */
export class PartitionContendedError extends Error {
  constructor(partitionId: string, attempts: number) {
    super(
      `Partition ${partitionId} was updated concurrently ${attempts} times; giving up this batch`,
    );
    this.name = 'PartitionContendedError';
  }
}

/**
 * Folds one window into the current alert of an equipment and metric and returns what was
 * written. The current alert is the one the slot names (a point read, never a stale query);
 * opening a new one moves the slot first under its ETag, or creates it, so two writers cannot
 * both open one: the loser re-reads and folds into the winner's alert. A person may
 * acknowledge or resolve the alert between our read and write: that, too, is re-read and
 * reapplied.
 */
export async function applyAlerts(
  store: AlertSlotStore,
  fold: (current: Alert | undefined) => Alert | undefined,
  equipmentId: string,
  metric: AlertMetric,
  /** False when folding can only change an existing alert: without a slot there is none. */
  mayOpen = true,
): Promise<Alert[]> {
  const written: Alert[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    const slot = await store.readAlertSlot(equipmentId, metric);
    let current: { alert: Alert; etag: string } | undefined;
    if (slot) {
      current = await store.readAlert(equipmentId, slot.slot.alertId);
      if (!current) {
        // The opener moved the slot and has not created its alert (crashed, or is about to):
        // create it as the opener would, then fold into it.
        if (await store.writeAlert(slot.slot.opening, undefined)) written.push(slot.slot.opening);
        continue;
      }
    } else {
      if (!mayOpen) return written;
      current = await store.latestAlert(equipmentId, metric);
    }
    const next = fold(current?.alert);
    if (!next) return written;
    // Same version: bookkeeping only (a normal-window count), stored but owing nobody anything.
    const delivered = (alert: Alert) =>
      current && alert.version === current.alert.version ? written : [...written, alert];
    if (current && next.id === current.alert.id) {
      // An alert from before slots existed is adopted by creating its slot first.
      if (
        !slot &&
        !(await store.claimAlertSlot(
          equipmentId,
          metric,
          { alertId: current.alert.id, opening: current.alert },
          undefined,
        ))
      ) {
        continue;
      }
      if (await store.writeAlert(next, current.etag)) return delivered(next);
      continue;
    }
    const opening: AlertSlot = { alertId: next.id, opening: next };
    if (!(await store.claimAlertSlot(equipmentId, metric, opening, slot?.etag))) continue;
    // Lost only to a writer that created it from the slot in the meantime: fold into it.
    if (await store.writeAlert(next, undefined)) return [...written, next];
  }
  throw new Error(`Alert for ${equipmentId}/${metric} kept changing underneath the pipeline`);
}

/** Emits every closed window of `state`; returns the state with them removed from pending. */
export async function emitDueWindows(
  options: ProcessorOptions,
  state: PartitionState,
  known: readonly BatchPartial[] = [],
): Promise<{
  state: PartitionState;
  windowsClosed: number;
  aggregatesWritten: number;
  alertsWritten: number;
  alerts: Alert[];
}> {
  const due = dueWindows(state);
  if (!due.length)
    return { state, windowsClosed: 0, aggregatesWritten: 0, alertsWritten: 0, alerts: [] };
  const { store } = options;
  const hysteresis = options.hysteresis ?? defaultHysteresis;
  const byId = new Map(known.map((partial) => [partial.id, partial]));
  const missing = [...new Set(due.flatMap((w) => w.partialIds))].filter((id) => !byId.has(id));
  for (const partial of await store.readPartials(state.partitionId, missing))
    byId.set(partial.id, partial);

  let aggregatesWritten = 0;
  const alerts: Alert[] = [];
  for (const { windowStart, partialIds } of due) {
    const partials = partialIds.map((id) => {
      const partial = byId.get(id);
      if (!partial)
        throw new Error(`Partial ${id} listed by partition ${state.partitionId} is missing`);
      return partial;
    });
    const merged = mergeWindow(partials, windowStart);
    const key = contributionKey(state);
    const contributions: AggregateContribution[] = [...merged.entries()]
      .sort(([a], [b]) => compareIds(a, b))
      .map(([equipmentId, stats]) => ({
        equipmentId,
        windowStart,
        partitionId: state.partitionId,
        key,
        stats,
      }));
    // Aggregates are stored before any alert, so an alert never points at a missing window.
    const aggregates = await store.writeAggregates(contributions);
    aggregatesWritten += aggregates.length;

    const equipmentIds = aggregates.map((a) => a.equipmentId);
    const rulesFor = await options.rules(equipmentIds);
    const inMaintenance = options.maintenance
      ? await options.maintenance(equipmentIds)
      : () => false;
    // Which metrics may clear: one query per window, so equipment without an unresolved
    // alert costs no further read.
    const unresolved = new Set(
      (await store.unresolvedAlerts(equipmentIds, new Date(windowStart).toISOString())).map(
        (u) => `${u.equipmentId}\n${u.metric}`,
      ),
    );
    const windowEnd = windowEndOf(windowStart);
    const silencesOf = options.silences
      ? await options.silences(
          aggregates.map((a) => a.equipmentId),
          windowEnd,
        )
      : () => [];
    for (const aggregate of aggregates) {
      // Graded on every partition's contributions so far, never on this one's alone.
      const means = meansOf(aggregate.stats);
      const rules = rulesFor(aggregate.equipmentId);
      const { breaches } = gradeWindow(means, rules);
      for (const breach of breaches) {
        alerts.push(
          ...(await applyAlerts(
            store,
            (current) =>
              applyBreach(
                current,
                aggregate.equipmentId,
                windowStart,
                aggregate.summary,
                breach,
                suppressionOf(
                  inMaintenance(aggregate.equipmentId),
                  silencesOf(aggregate.equipmentId),
                  breach.metric,
                  windowEnd,
                  current,
                ),
                hysteresis.flapWindowMs,
              ),
            aggregate.equipmentId,
            breach.metric,
          )),
        );
      }
      const breached = new Set(breaches.map((b) => b.metric));
      for (const metric of metricNames.filter((m) => !breached.has(m))) {
        // Another partition's readings may have brought a metric back under its threshold
        // after an alert was raised from a partial view: take that window's effect back. Only
        // windows with several contributions can do that, so the usual case reads nothing more.
        if (Object.keys(aggregate.contributions).length >= 2) {
          alerts.push(
            ...(await applyAlerts(
              store,
              (current) => applyClearance(current, windowStart, aggregate.summary),
              aggregate.equipmentId,
              metric,
              false,
            )),
          );
        }
        if (!unresolved.has(`${aggregate.equipmentId}\n${metric}`)) continue;
        const rule = rules[metric];
        alerts.push(
          ...(await applyAlerts(
            store,
            (current) =>
              applyCalm(
                current,
                windowStart,
                aggregate.summary,
                means[metric],
                { direction: rule.direction, clear: clearThresholdOf(metric, rule) },
                hysteresis.clearWindows,
              ),
            aggregate.equipmentId,
            metric,
            false,
          )),
        );
      }
    }
  }
  return {
    state: markEmitted(
      state,
      due.map((w) => w.windowStart),
    ),
    windowsClosed: due.length,
    aggregatesWritten,
    alertsWritten: alerts.length,
    alerts,
  };
}

/**
 * Emits the closed windows of a COMMITTED state, then records that under its ETag. Working
 * only from committed state is what makes emission deterministic: whoever emits (the batch,
 * its redo, another instance, the timer) writes the same documents. Losing the final commit
 * only means someone else moved the partition on; they emit the same windows again.
 */
async function emitCommitted(
  options: ProcessorOptions,
  state: PartitionState,
  etag: string,
  known: readonly BatchPartial[] = [],
): Promise<{ windowsClosed: number; aggregatesWritten: number; alertsWritten: number }> {
  const { alerts, ...emitted } = await emitDueWindows(options, state, known);
  if (emitted.windowsClosed > 0) await options.store.commitState(emitted.state, etag);
  // Here rather than per batch: the idle-window timer closes windows too.
  recordWindowsEmitted(emitted.windowsClosed, emitted.aggregatesWritten);
  // Stored first, delivered after: what this attempt cannot deliver stays owed in the alert.
  if (alerts.length) await options.fanOut?.alertsWritten(alerts);
  return emitted;
}

/**
 * Processes one partition's batch exactly once (see the module comment). The batch is
 * committed first (partial, dead letters, then the state with the new watermark); windows it
 * closed are emitted afterwards from the committed state, so ingestion never waits on, or is
 * lost to, a failure while emitting: the next batch or timer tick emits them.
 */
export async function processBatch(
  options: ProcessorOptions,
  partitionId: string,
  events: readonly PartitionEvent[],
): Promise<BatchOutcome> {
  const maxAttempts = options.maxAttempts ?? 5;
  const { store } = options;
  // Parsed and checked against the registry once, outside the redo loop: neither depends on
  // the partition's state.
  const parsed = parseEvents(events, options.settings);
  const isRegistered = options.registry
    ? await options.registry(equipmentIdsOf(parsed))
    : undefined;
  // Only registered machines: ids nobody registered must not grow the presence document.
  const presence = (): Presence =>
    Object.fromEntries(
      Object.entries(presenceOf(parsed)).filter(([id]) => isRegistered?.(id) ?? true),
    );
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const stored = await store.readState(partitionId);
    const before = stored.state ?? initialPartitionState(partitionId);
    const applied = applyBatch(
      before,
      events,
      options.settings,
      isRegistered ? { parsed, isRegistered } : { parsed },
    );
    if (applied.state === before) {
      // Already committed; finish any emission (and presence) an earlier attempt did not get to.
      await options.presence?.(partitionId, presence());
      const emitted =
        stored.state && stored.etag
          ? await emitCommitted(options, stored.state, stored.etag)
          : { windowsClosed: 0, aggregatesWritten: 0, alertsWritten: 0 };
      return {
        accepted: false,
        skippedEvents: applied.skipped,
        deadLetters: 0,
        readings: 0,
        deadLettersByReason: {},
        watermarkMs: before.maxEventTime,
        ...emitted,
        attempts: attempt,
        epochsStarted: [],
      };
    }
    if (applied.partial) await store.writePartial(applied.partial);
    if (applied.deadLetters.length) await store.writeDeadLetters(applied.deadLetters);
    const etag = await store.commitState(applied.state, stored.etag);
    if (etag === undefined) continue; // another writer moved the partition on: redo against it
    await options.presence?.(partitionId, presence());
    if (applied.partial) await options.fanOut?.batchCommitted(applied.state, applied.partial);
    const emitted = await emitCommitted(
      options,
      applied.state,
      etag,
      applied.partial ? [applied.partial] : [],
    );
    return {
      accepted: true,
      skippedEvents: applied.skipped,
      deadLetters: applied.deadLetters.length,
      readings: applied.readings,
      deadLettersByReason: rejectionsByReason(applied.deadLetters),
      watermarkMs: applied.state.maxEventTime,
      ...emitted,
      attempts: attempt,
      epochsStarted: applied.epochsStarted,
    };
  }
  throw new PartitionContendedError(partitionId, maxAttempts);
}

/** What one run of the idle-window timer did. */
export interface IdleWindowsReport {
  partitions: number;
  windowsClosed: number;
  alertsWritten: number;
  failures: { partitionId: string; error: unknown }[];
}

/**
 * Closes windows by the wall clock for partitions that went quiet (the timer function), so a
 * device's last window is evaluated even when no newer event arrives. The closing is
 * committed before anything is emitted from it; a partition whose state changes underneath
 * is left for its batch processing or the next tick, and one partition's failure does not
 * stop the others.
 */
export async function closeIdleWindows(
  options: ProcessorOptions,
  nowMs: number,
  idleGraceMs: number,
  /** Whether the hub holds nothing beyond what the state has processed; see hubProbe.ts. */
  isCaughtUp: HubProbe = () => Promise.resolve(true),
): Promise<IdleWindowsReport> {
  let windowsClosed = 0;
  let alertsWritten = 0;
  const failures: { partitionId: string; error: unknown }[] = [];
  const states = await options.store.listStates();
  for (const { state, etag } of states) {
    try {
      let advanced = advanceByClock(state, nowMs, options.settings, idleGraceMs);
      // A partition that is behind, not quiet, keeps its windows open for its backlog.
      if (advanced !== state && !(await isCaughtUp(state.partitionId, state))) {
        advanced = state;
      }
      const committed = advanced === state ? etag : await options.store.commitState(advanced, etag);
      if (committed === undefined) continue;
      const emitted = await emitCommitted(options, advanced, committed);
      windowsClosed += emitted.windowsClosed;
      alertsWritten += emitted.alertsWritten;
    } catch (error) {
      failures.push({ partitionId: state.partitionId, error });
    }
  }
  return { partitions: states.length, windowsClosed, alertsWritten, failures };
}

/**
 * The pipeline bound to its store, rules, registry and fan-out: what the Event Hub trigger
 * and the idle-window timer call (built once per process by lib/services.ts).
 */
export interface TelemetryProcessor {
  /** See {@link processBatch}. */
  processBatch(partitionId: string, events: readonly PartitionEvent[]): Promise<BatchOutcome>;
  /** See {@link closeIdleWindows}. */
  closeIdleWindows(
    nowMs: number,
    idleGraceMs: number,
    isCaughtUp?: HubProbe,
  ): Promise<IdleWindowsReport>;
  /** Stores a batch that cannot be read as a whole (lib/telemetry/parking.ts). */
  parkBatch(batch: ParkedBatch): Promise<string[]>;
}

export function createTelemetryProcessor(options: ProcessorOptions): TelemetryProcessor {
  return {
    processBatch: (partitionId, events) => processBatch(options, partitionId, events),
    closeIdleWindows: (nowMs, idleGraceMs, isCaughtUp) =>
      closeIdleWindows(options, nowMs, idleGraceMs, isCaughtUp),
    parkBatch: (batch) => options.store.parkBatch(batch),
  };
}
