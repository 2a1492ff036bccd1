/**
 * Runs the partition fold against a store: read the partition's state, apply the batch,
 * write the batch's partial and dead letters, emit every window the watermark closed
 * (aggregates, then alerts), and commit the new state under its ETag. Losing the commit
 * race (another instance owns the partition for a moment) means re-reading and redoing:
 * everything written before the commit is deterministic and idempotent, so the redo, or the
 * other instance, writes the same documents.
 */
import { applyBreach, type Alert } from './alerts.js';
import {
  advanceByClock,
  applyBatch,
  equipmentIdsOf,
  initialPartitionState,
  dueWindows,
  markEmitted,
  mergeWindow,
  parseEvents,
  type BatchPartial,
  type DeadLetter,
  type EpochChange,
  type PartitionEvent,
  type PartitionState,
  type PipelineSettings,
} from './partition.js';
import type { ParkedBatch } from './parking.js';
import type { MetricName } from './reading.js';
import { gradeWindow, type ResolvedSeverityRules } from './severity.js';
import { meansOf, summarize, type WindowStats } from './stats.js';
import { windowEndOf } from './window.js';

/** One equipment's closed window: the historical series. */
export interface WindowAggregate {
  /** `{equipmentId}:{window start ISO}` */
  id: string;
  equipmentId: string;
  windowStart: string;
  windowEnd: string;
  partitionId: string;
  summary: ReturnType<typeof summarize>;
  /** Exact sums, so aggregates can be re-merged without rounding drift. */
  stats: WindowStats;
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
  writeAggregates(aggregates: readonly WindowAggregate[]): Promise<void>;
  /** The alert with the newest window for this equipment and metric, any status. */
  latestAlert(
    equipmentId: string,
    metric: MetricName,
  ): Promise<{ alert: Alert; etag: string } | undefined>;
  /** Creates (etag undefined) or replaces (etag given) an alert. False on a lost race. */
  writeAlert(alert: Alert, etag: string | undefined): Promise<boolean>;
}

/** Severity rules for each equipment id (per-type overrides resolved by the caller). */
export type RulesLookup = (
  equipmentIds: readonly string[],
) => Promise<(equipmentId: string) => ResolvedSeverityRules>;

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
  /** Readings of ids it rejects are dead-lettered as `unregistered`. Default: every id. */
  registry?: RegistryLookup | undefined;
  fanOut?: PipelineFanOut | undefined;
  /** How often to redo after losing a commit race before giving up. */
  maxAttempts?: number;
}

export interface BatchOutcome {
  accepted: boolean;
  skippedEvents: number;
  deadLetters: number;
  windowsClosed: number;
  aggregatesWritten: number;
  alertsWritten: number;
  attempts: number;
  /** Epochs this batch started (the hub's sequence numbers began again); see applyBatch. */
  epochsStarted: EpochChange[];
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

async function applyAlerts(
  store: TelemetryStore,
  alert: (latest: Alert | undefined) => Alert | undefined,
  equipmentId: string,
  metric: MetricName,
): Promise<Alert | undefined> {
  // A person may acknowledge or resolve the alert between our read and write: re-read and reapply.
  for (let attempt = 0; attempt < 10; attempt++) {
    const latest = await store.latestAlert(equipmentId, metric);
    const next = alert(latest?.alert);
    if (!next) return undefined;
    const sameDocument = latest !== undefined && latest.alert.id === next.id;
    if (await store.writeAlert(next, sameDocument ? latest.etag : undefined)) return next;
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
    const aggregates: WindowAggregate[] = [...merged.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([equipmentId, stats]) => ({
        id: `${equipmentId}:${new Date(windowStart).toISOString()}`,
        equipmentId,
        windowStart: new Date(windowStart).toISOString(),
        windowEnd: new Date(windowEndOf(windowStart)).toISOString(),
        partitionId: state.partitionId,
        summary: summarize(stats),
        stats,
      }));
    // Aggregates are stored before any alert, so an alert never points at a missing window.
    await store.writeAggregates(aggregates);
    aggregatesWritten += aggregates.length;

    const rulesFor = await options.rules(aggregates.map((a) => a.equipmentId));
    for (const aggregate of aggregates) {
      const { breaches } = gradeWindow(meansOf(aggregate.stats), rulesFor(aggregate.equipmentId));
      for (const breach of breaches) {
        const written = await applyAlerts(
          store,
          (latest) =>
            applyBreach(latest, aggregate.equipmentId, windowStart, aggregate.summary, breach),
          aggregate.equipmentId,
          breach.metric,
        );
        if (written) alerts.push(written);
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
      // Already committed; finish any emission an earlier attempt did not get to.
      const emitted =
        stored.state && stored.etag
          ? await emitCommitted(options, stored.state, stored.etag)
          : { windowsClosed: 0, aggregatesWritten: 0, alertsWritten: 0 };
      return {
        accepted: false,
        skippedEvents: applied.skipped,
        deadLetters: 0,
        ...emitted,
        attempts: attempt,
        epochsStarted: [],
      };
    }
    if (applied.partial) await store.writePartial(applied.partial);
    if (applied.deadLetters.length) await store.writeDeadLetters(applied.deadLetters);
    const etag = await store.commitState(applied.state, stored.etag);
    if (etag === undefined) continue; // another writer moved the partition on: redo against it
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
      ...emitted,
      attempts: attempt,
      epochsStarted: applied.epochsStarted,
    };
  }
  throw new PartitionContendedError(partitionId, maxAttempts);
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
  isCaughtUp: (partitionId: string, lastSequenceNumber: number) => Promise<boolean> = () =>
    Promise.resolve(true),
): Promise<{
  partitions: number;
  windowsClosed: number;
  alertsWritten: number;
  failures: { partitionId: string; error: unknown }[];
}> {
  let windowsClosed = 0;
  let alertsWritten = 0;
  const failures: { partitionId: string; error: unknown }[] = [];
  const states = await options.store.listStates();
  for (const { state, etag } of states) {
    try {
      let advanced = advanceByClock(state, nowMs, options.settings, idleGraceMs);
      // A partition that is behind, not quiet, keeps its windows open for its backlog.
      if (advanced !== state && !(await isCaughtUp(state.partitionId, state.lastSequenceNumber))) {
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
