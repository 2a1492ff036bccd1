/**
 * Maintenance alerts: one per equipment and metric while it stays unresolved (storm
 * control). Everything the pipeline writes into an alert is derived from windows, never from
 * the wall clock, so re-emitting a window after a crash produces the same document.
 */
import {
  pipelineActor,
  withTimeline,
  type AlertChangeBy,
  type AlertTimelineEntry,
} from './alertTimeline.js';
import type { MetricName } from './reading.js';
import { severityRank, type Breach, type Severity } from './severity.js';
import type { summarize } from './stats.js';
import { windowEndOf } from './window.js';

export const alertStatuses = ['open', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof alertStatuses)[number];

/** The window that raised or last updated an alert. */
export interface AlertWindow {
  start: string;
  end: string;
  summary: ReturnType<typeof summarize>;
}

/** What the fan-out tells clients about an alert's latest write. */
export const alertEventTypes = ['alert.raised', 'alert.escalated', 'alert.updated'] as const;
export type AlertEventType = (typeof alertEventTypes)[number];

/**
 * The alert's outbox: what still has to reach people about its current version. Written in
 * the same document as the alert, so an alert is never stored without its delivery duty.
 */
export interface AlertDelivery {
  /** The alert version this delivery is for. */
  version: number;
  type: AlertEventType;
  /**
   * Still to do: the channels `webPubSub` and `push` until first tried, then the targets
   * that failed (`group:<name>`, `user:<id>`, `push`). Empty: delivered.
   */
  pending: string[];
  /** Failed attempts so far (for the backoff). */
  attempts: number;
  /** Earliest next attempt after a failure (ISO). */
  retryAt?: string;
  /**
   * On a suppressed version ({@link Alert.suppressed}): the channels that would have been
   * owed. Nothing is sent for it; the first unsuppressed version inherits this duty.
   */
  withheld?: string[];
}

/**
 * What an alert is about: a metric's breach, or `offline` (the equipment stopped sending;
 * lib/telemetry/offline.ts).
 */
export type AlertMetric = MetricName | 'offline';

/** The breach of an offline alert: minutes silent against the equipment's timeout. */
export type OfflineBreach = Omit<Breach, 'metric'> & { metric: 'offline' };

/** Why an offline alert was raised, and what the pipeline changed (lib/telemetry/offline.ts). */
export interface OfflineDetail {
  /** Enqueued time (to the minute) of the newest reading before the equipment went silent. */
  lastSeenAt: string;
  timeoutMinutes: number;
  /** The MySQL status the pipeline changed to `Offline` (null: it left the status alone). */
  statusBefore: string | null;
  /** Enqueued time (to the minute) of the first reading back: the pipeline resolved it then. */
  backOnlineAt?: string;
}

/** Why an alert's notifications are held back (equipment under maintenance). */
export interface AlertSuppression {
  reason: 'maintenance';
}

export interface Alert {
  /** `{equipmentId}:{metric}:{first window start}`: a replay can never raise a second one. */
  id: string;
  /** 1 when raised, +1 on every write: clients drop a repeat of a version they have. */
  version: number;
  equipmentId: string;
  metric: AlertMetric;
  status: AlertStatus;
  /** Highest severity seen while unresolved: escalates, never silently de-escalates. */
  severity: Severity;
  /** Number of anomalous windows folded into this alert. */
  occurrences: number;
  firstWindowStart: string;
  lastWindowStart: string;
  /** End of the first anomalous window: when the alert could first be known. */
  raisedAt: string;
  /** The latest breach (metric mean, threshold, description, recommended action). */
  breach: Breach | OfflineBreach;
  /** For an offline alert: the last window with readings. */
  window: AlertWindow;
  /** Present exactly on `offline` alerts. */
  offline?: OfflineDetail;
  acknowledgedAt?: string;
  acknowledgedBy?: string;
  /** What the person who acknowledged the alert said (bounded text, optional). */
  acknowledgementNote?: string;
  resolvedAt?: string;
  resolvedBy?: string;
  /** Service record created when the alert was resolved with a work report. */
  serviceRecordId?: number;
  /**
   * The technician an admin assigned the alert to (MySQL id), absent when unassigned. They
   * receive it by user and may see and handle it even when not assigned to the equipment.
   */
  assigneeTechnicianId?: number;
  /** The assignee's `externalId`: their token subject and Web PubSub user id. */
  assigneeUserId?: string;
  /** Token subject of the admin who made the current assignment. */
  assignedBy?: string;
  assignedAt?: string;
  /**
   * True when the pipeline itself resolved the alert because the window that raised it, once
   * every partition's readings were merged in, no longer breached (see {@link applyClearance}).
   */
  withdrawn?: true;
  /**
   * What people said about the alert, oldest first (see lib/api/alertComments.ts). Kept in
   * the alert so it shares its partition and ETag; read through its own route, not sent
   * with the alert.
   */
  comments?: AlertComment[];
  /**
   * Every change of the alert's state, oldest first (lib/telemetry/alertTimeline.ts): read
   * with the one alert, not in lists or fan-out messages.
   */
  timeline?: AlertTimelineEntry[];
  /**
   * Set while the alert's equipment was in `Maintenance` when the pipeline last raised or
   * updated it: stored and shown (muted), but nobody is notified. The status is an input of
   * the emission, like the severity rules; a later window after maintenance clears it.
   */
  suppressed?: AlertSuppression;
  delivery?: AlertDelivery;
  /** Present (true) exactly while `delivery.pending` is not empty: what the sweep queries. */
  deliveryPending?: true;
  /**
   * The fold before the last window was added (absent when the last window raised the
   * alert). One equipment's window can be graded again when another Event Hubs partition
   * contributes readings to it; this is what lets the re-grade replace the last window's
   * effect exactly instead of adding to it. Pipeline bookkeeping, not shown to clients.
   */
  beforeLastWindow?: AlertFold;
}

/** One comment on an alert. */
export interface AlertComment {
  /** Its position among the alert's comments, from 1 (comments are never removed). */
  id: number;
  /** The token subject of who wrote it. */
  author: string;
  at: string;
  text: string;
}

/** The parts of an alert that folding a window changes. */
export type AlertFold = Pick<
  Alert,
  'severity' | 'occurrences' | 'lastWindowStart' | 'breach' | 'window'
>;

/** An alert as the API and clients see it. */
export type PublicAlert = Omit<Alert, NotPublic>;
type NotPublic = 'delivery' | 'deliveryPending' | 'beforeLastWindow' | 'comments' | 'timeline';

/** An alert as `GET /api/alerts/{id}` answers: its public fields and its timeline. */
export type AlertDetail = PublicAlert & { timeline: AlertTimelineEntry[] };

/**
 * The alert as the API and clients see it: without its outbox and fold bookkeeping, and
 * without its comments (read at /api/alerts/{id}/comments, so a long discussion does not
 * weigh on every list page and fan-out message).
 */
export function publicAlert<T extends Alert>(alert: T): Omit<T, NotPublic> {
  const {
    delivery: _delivery,
    deliveryPending: _pending,
    beforeLastWindow: _before,
    comments: _comments,
    timeline: _timeline,
    ...rest
  } = alert;
  return rest;
}

/** The alert as one read of it shows it: {@link publicAlert} with its timeline. */
export function alertDetail(alert: Alert): AlertDetail {
  return { ...publicAlert(alert), timeline: alert.timeline ?? [] };
}

/**
 * The delivery duty of a new version. A version nobody has received yet keeps its
 * `alert.raised` type, so clients still learn of the alert as new, and a push still owed
 * stays owed; people's phones ring for raised and escalated alerts, not for every update.
 * What a suppressed version withheld counts as not received. A suppressed version owes
 * nothing: its duty is recorded as `withheld`, with `pending` empty.
 */
export function nextDelivery(
  previous: Alert | undefined,
  type: AlertEventType,
  version: number,
  suppressed = false,
): AlertDelivery {
  const unsent = previous?.delivery?.pending.length
    ? { type: previous.delivery.type, pending: previous.delivery.pending }
    : previous?.suppressed && previous.delivery?.withheld
      ? { type: previous.delivery.type, pending: previous.delivery.withheld }
      : undefined;
  const effective = unsent?.type === 'alert.raised' ? 'alert.raised' : type;
  const pushOwed =
    effective !== 'alert.updated' ||
    unsent?.pending.some((target) => target.startsWith('push')) === true;
  const owed = pushOwed ? ['webPubSub', 'push'] : ['webPubSub'];
  return suppressed
    ? { version, type: effective, pending: [], attempts: 0, withheld: owed }
    : { version, type: effective, pending: owed, attempts: 0 };
}

/**
 * `alert` as a new version of `previous` (same document) that must be delivered, unless
 * `alert` is suppressed: then it is stored with nothing pending (see {@link nextDelivery}).
 * What changed is recorded in its timeline as made by `change`.
 */
export function withNewVersion(
  previous: Alert | undefined,
  alert: Omit<Alert, 'version' | 'delivery' | 'deliveryPending'>,
  type: AlertEventType,
  change: AlertChangeBy,
): Alert {
  const version = previous ? previous.version + 1 : 1;
  const delivery = nextDelivery(previous, type, version, alert.suppressed !== undefined);
  const next: Alert = delivery.pending.length
    ? { ...alert, version, delivery, deliveryPending: true }
    : { ...alert, version, delivery };
  return withTimeline(previous, next, change);
}

/** The pipeline's change of an alert, dated by the end of the window that made it. */
function byPipeline(window: AlertWindow): AlertChangeBy {
  return { by: pipelineActor, at: window.end };
}

export function alertId(equipmentId: string, metric: AlertMetric, windowStart: number): string {
  return `${equipmentId}:${metric}:${new Date(windowStart).toISOString()}`;
}

/** Alert ids are `{equipmentId}:{metric}:{ISO window start}`; the equipment id is the partition key. */
export function equipmentIdOfAlert(id: string): string | undefined {
  // The equipment part must be a valid equipment id: anything else (including characters
  // Cosmos refuses in ids, such as '#' or '\\') is simply not an alert.
  const match =
    /^([A-Za-z0-9._:-]{1,64}):(temperature|vibration|pressure|offline):\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.exec(
      id,
    );
  return match?.[1];
}

/**
 * The slot naming the current alert of one equipment and metric, a document in the alerts
 * container under the same partition key. Opening a new alert moves the slot first (a
 * `create`, or a replace under its ETag), so of two writers that both saw no open alert
 * exactly one wins; the other re-reads and folds into the winner's alert. Its id never looks
 * like an alert id (those end in a window start), so reads by alert id cannot return it.
 */
export interface AlertSlot {
  alertId: string;
  /**
   * The alert as its opener wrote it first. The slot moves before the alert is created, so
   * a writer that finds the slot naming a missing alert (the opener crashed in between, or
   * is just about to create it) creates it from this, exactly as the opener would have.
   */
  opening: Alert;
}

export function alertSlotId(equipmentId: string, metric: AlertMetric): string {
  return `${equipmentId}:${metric}:active`;
}

/** Just the fold of `alert`, in one key order (so equal folds serialise identically). */
function foldOf(alert: AlertFold): AlertFold {
  const { severity, occurrences, lastWindowStart, breach, window } = alert;
  return { severity, occurrences, lastWindowStart, breach, window };
}

function sameFold(a: AlertFold, b: AlertFold): boolean {
  return JSON.stringify(foldOf(a)) === JSON.stringify(foldOf(b));
}

function alertWindow(windowStart: number, summary: AlertWindow['summary']): AlertWindow {
  return {
    start: new Date(windowStart).toISOString(),
    end: new Date(windowEndOf(windowStart)).toISOString(),
    summary,
  };
}

/**
 * `latest` with `fold` as its fold, as a new version. `withdrawn` (and the resolution it
 * made) only stays when `changes` sets it again: re-folding a breach reinstates the alert.
 */
function refolded(
  latest: Alert,
  /** The window whose emission makes this change (it dates the timeline entries). */
  emitted: AlertWindow,
  fold: AlertFold,
  beforeLastWindow: AlertFold | undefined,
  changes: Partial<Pick<Alert, 'status' | 'resolvedAt' | 'withdrawn'>> = {},
  /** The alert's suppression from now on (null: none); undefined keeps `latest`'s. */
  suppression?: AlertSuppression | null,
): Alert {
  const suppressed = suppression === undefined ? latest.suppressed : suppression;
  const {
    beforeLastWindow: _previous,
    withdrawn: _withdrawn,
    resolvedAt: _resolvedAt,
    suppressed: _suppressed,
    ...rest
  } = latest;
  const kept =
    latest.withdrawn || latest.resolvedAt === undefined ? {} : { resolvedAt: latest.resolvedAt };
  const escalated = severityRank(fold.severity) > severityRank(latest.severity);
  return withNewVersion(
    latest,
    {
      ...rest,
      ...kept,
      ...fold,
      ...changes,
      ...(beforeLastWindow ? { beforeLastWindow } : {}),
      ...(suppressed ? { suppressed } : {}),
    },
    escalated ? 'alert.escalated' : 'alert.updated',
    byPipeline(emitted),
  );
}

/**
 * Folds one anomalous window into the alerts of its equipment and metric.
 *
 * A window is normally graded once, when it closes, and windows close in order per
 * equipment. When one equipment's readings arrive on several Event Hubs partitions, each
 * partition's contribution re-grades the window on the merged figures: a re-grade of the
 * alert's last window replaces that window's effect (breach, window, severity relative to
 * the windows before it) without counting another occurrence. A window older than the last
 * one is left alone (see README, "One equipment on several partitions").
 * @param latest the current alert of this equipment and metric (the one its slot names), any status.
 * @param inMaintenance whether the equipment is in `Maintenance` for this emission: the alert
 * written is then suppressed (see {@link Alert.suppressed}), and otherwise it is not.
 * @returns the alert to write, or undefined when the window is already reflected.
 */
export function applyBreach(
  latest: Alert | undefined,
  equipmentId: string,
  windowStart: number,
  summary: AlertWindow['summary'],
  breach: Breach,
  inMaintenance = false,
): Alert | undefined {
  const suppressed: AlertSuppression | null = inMaintenance ? { reason: 'maintenance' } : null;
  const window = alertWindow(windowStart, summary);
  const start = window.start;
  const last = latest ? Date.parse(latest.lastWindowStart) : undefined;
  if (latest && last !== undefined && last > windowStart) return undefined;
  if (latest && last === windowStart) {
    // Resolved by a person: the window already counted, and re-raising it would be a duplicate.
    if (latest.status === 'resolved' && !latest.withdrawn) return undefined;
    const before = latest.beforeLastWindow;
    const severity =
      before && severityRank(before.severity) > severityRank(breach.severity)
        ? before.severity
        : breach.severity;
    const fold: AlertFold = {
      severity,
      occurrences: before ? before.occurrences + 1 : 1,
      lastWindowStart: start,
      breach,
      window,
    };
    if (!latest.withdrawn && sameFold(fold, latest)) return undefined;
    // A withdrawn alert whose window breaches again (a third contribution) is reinstated.
    return refolded(
      latest,
      window,
      fold,
      before,
      latest.withdrawn ? { status: 'open' } : {},
      suppressed,
    );
  }
  if (latest && latest.status !== 'resolved') {
    const escalated = severityRank(breach.severity) > severityRank(latest.severity);
    return refolded(
      latest,
      window,
      {
        severity: escalated ? breach.severity : latest.severity,
        occurrences: latest.occurrences + 1,
        lastWindowStart: start,
        breach,
        window,
      },
      foldOf(latest),
      {},
      suppressed,
    );
  }
  return withNewVersion(
    undefined,
    {
      id: alertId(equipmentId, breach.metric, windowStart),
      equipmentId,
      metric: breach.metric,
      status: 'open',
      severity: breach.severity,
      occurrences: 1,
      firstWindowStart: start,
      lastWindowStart: start,
      raisedAt: window.end,
      breach,
      window,
      ...(suppressed ? { suppressed } : {}),
    },
    'alert.raised',
    byPipeline(window),
  );
}

/**
 * A window that, re-graded on every partition's readings, no longer breaches this metric.
 * When it is the alert's last window its effect is taken back: the alert returns to its fold
 * before that window, or, when that window raised it, the alert is withdrawn (resolved by the
 * pipeline, `withdrawn: true`, at the window's end) so a later breach opens a new alert just
 * as a single partition would have. Alerts a person resolved, and windows older than the
 * last, are left alone.
 * @returns the alert to write, or undefined when there is nothing to take back.
 */
export function applyClearance(
  latest: Alert | undefined,
  windowStart: number,
  summary: AlertWindow['summary'],
): Alert | undefined {
  if (!latest || latest.status === 'resolved') return undefined;
  if (Date.parse(latest.lastWindowStart) !== windowStart) return undefined;
  const before = latest.beforeLastWindow;
  const window = alertWindow(windowStart, summary);
  if (before) return refolded(latest, window, before, undefined);
  return refolded(latest, window, { ...foldOf(latest), window }, undefined, {
    status: 'resolved',
    resolvedAt: window.end,
    withdrawn: true,
  });
}

/** Status changes a person may make: open → acknowledged → resolved (or open → resolved). */
export function canTransition(from: AlertStatus, to: AlertStatus): boolean {
  return (
    (from === 'open' && (to === 'acknowledged' || to === 'resolved')) ||
    (from === 'acknowledged' && to === 'resolved')
  );
}
