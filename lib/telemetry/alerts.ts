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
import type { AlertEscalation } from './escalation.js';
import type { MetricName } from './reading.js';
import { severityRank, type Breach, type Direction, type Severity } from './severity.js';
import type { summarize } from './stats.js';
import { windowEndOf } from './window.js';

/**
 * `cleared`: set by the pipeline when the metric came back inside its clear threshold (see
 * {@link applyCalm}); a breach within the flap window reopens it ({@link applyBreach}).
 */
export const alertStatuses = ['open', 'acknowledged', 'resolved', 'cleared'] as const;
export type AlertStatus = (typeof alertStatuses)[number];

/** The window that raised or last updated an alert. */
export interface AlertWindow {
  start: string;
  end: string;
  summary: ReturnType<typeof summarize>;
}

/** What the fan-out tells clients about an alert's latest write. */
export const alertEventTypes = [
  'alert.raised',
  'alert.escalated',
  'alert.updated',
  'alert.cleared',
  'alert.reopened',
] as const;
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

/**
 * Why an alert's notifications are held back: its equipment is under maintenance, or a
 * silence (MySQL `silences`, `/api/silences`) held it; `silenceId` names that silence.
 */
export type AlertSuppression = { reason: 'maintenance' } | { reason: 'silence'; silenceId: number };

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
  /** Times a breach within the flap window reopened the alert after it cleared (absent: 0). */
  flapCount?: number;
  /** While `cleared`: the end of the window that cleared it (the last of the normal run). */
  clearedAt?: string;
  /** While `cleared`: the start of that window. */
  clearedWindowStart?: string;
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
   * Set while the alert's equipment was in `Maintenance`, or a silence matched it, when the
   * pipeline last raised or updated it (or when a silence was created from it): stored and
   * shown (muted), but nobody is notified. Status and silences are inputs of the emission,
   * like the severity rules; a later window after maintenance or the silence clears it.
   */
  suppressed?: AlertSuppression;
  /**
   * Escalation steps and reminders taken by the delivery sweep (lib/telemetry/escalation.ts),
   * and when it has to look again. Bookkeeping: shown through the timeline, not sent.
   */
  escalation?: AlertEscalation;
  delivery?: AlertDelivery;
  /** Present (true) exactly while `delivery.pending` is not empty: what the sweep queries. */
  deliveryPending?: true;
  /**
   * The fold before the last window was added (absent when the last window raised the
   * alert). One equipment's window can be graded again when another Event Hubs partition
   * contributes readings to it; this is what lets the re-grade replace the last window's
   * effect exactly instead of adding to it. Pipeline bookkeeping, not shown to clients.
   */
  beforeLastWindow?: AlertFold & Pick<Alert, 'normalStreak'>;
  /**
   * While open or acknowledged: the consecutive windows since the last breach whose mean was
   * inside the clear threshold (`windows`; 0 after a window between clear and medium), and
   * the newest window counted, so a window graded again is not counted twice, and the count
   * before it (`before`), so that window graded again on more partitions' readings is counted
   * by its merged mean instead. Pipeline bookkeeping, written without a new version and not
   * shown to clients.
   */
  normalStreak?: { windows: number; lastWindowStart: string; before?: number };
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
type NotPublic =
  | 'delivery'
  | 'deliveryPending'
  | 'beforeLastWindow'
  | 'comments'
  | 'timeline'
  | 'escalation'
  | 'normalStreak';

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
    escalation: _escalation,
    normalStreak: _streak,
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
 * A clearing (`alert.cleared`) rings nobody; a reopening (`alert.reopened`) rings only when
 * someone had acknowledged the alert before it cleared (they think it handled; it is back),
 * not on every flap of an alert nobody has taken on yet. What a suppressed version withheld
 * counts as not received. A suppressed version owes
 * nothing: its duty is recorded as `withheld`, with `pending` empty.
 */
export function nextDelivery(
  previous: Alert | undefined,
  type: AlertEventType,
  version: number,
  suppressed = false,
  status?: AlertStatus,
): AlertDelivery {
  const unsent = previous?.delivery?.pending.length
    ? { type: previous.delivery.type, pending: previous.delivery.pending }
    : previous?.suppressed && previous.delivery?.withheld
      ? { type: previous.delivery.type, pending: previous.delivery.withheld }
      : undefined;
  const effective = unsent?.type === 'alert.raised' ? 'alert.raised' : type;
  const pushOwed =
    effective === 'alert.raised' ||
    effective === 'alert.escalated' ||
    (effective === 'alert.reopened' && previous?.acknowledgedAt !== undefined) ||
    unsent?.pending.some((target) => target.startsWith('push')) === true;
  const owed = pushOwed ? ['webPubSub', 'push'] : ['webPubSub'];
  // Email (lib/fanout/channels.ts): raised, escalated, cleared and resolved alerts; SMS rings
  // when the phones ring. Either stays owed while a version before still owed it.
  const stillOwes = (duty: string) =>
    unsent?.pending.some((target) => target === duty || target.startsWith(`${duty}:`)) === true;
  if (
    effective === 'alert.raised' ||
    effective === 'alert.escalated' ||
    effective === 'alert.cleared' ||
    (effective === 'alert.updated' && status === 'resolved') ||
    stillOwes('email')
  )
    owed.push('email');
  if (pushOwed || stillOwes('sms')) owed.push('sms');
  // Webhooks are owed every event: each webhook chooses its event types (lib/fanout/webhooks.ts).
  owed.push('webhooks');
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
  const delivery = nextDelivery(
    previous,
    type,
    version,
    alert.suppressed !== undefined,
    alert.status,
  );
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
  fold: AlertFold & Pick<Alert, 'normalStreak'>,
  beforeLastWindow: Alert['beforeLastWindow'],
  changes: Partial<Pick<Alert, 'status' | 'resolvedAt' | 'withdrawn'>> = {},
  /** The alert's suppression from now on (null: none); undefined keeps `latest`'s. */
  suppression?: AlertSuppression | null,
): Alert {
  const suppressed = suppression === undefined ? latest.suppressed : suppression;
  // A normal run is counted from the alert's last breach: a refold moves it, so it restarts.
  const {
    beforeLastWindow: _previous,
    withdrawn: _withdrawn,
    resolvedAt: _resolvedAt,
    suppressed: _suppressed,
    normalStreak: _streak,
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
 *
 * A `cleared` alert is reopened by a breach whose window starts at most `flapWindowMs` after
 * the end of the window that cleared it (see {@link reopened}); a later breach opens a new
 * alert, as after a resolution.
 * @param suppression why the alert written is suppressed for this emission (see
 * {@link Alert.suppressed}); `true` means maintenance, `false` (the default) none.
 * @returns the alert to write, or undefined when the window is already reflected.
 */
export function applyBreach(
  latest: Alert | undefined,
  equipmentId: string,
  windowStart: number,
  summary: AlertWindow['summary'],
  breach: Breach,
  suppression: AlertSuppression | boolean = false,
  flapWindowMs = defaultHysteresis.flapWindowMs,
): Alert | undefined {
  const suppressed: AlertSuppression | null =
    suppression === true ? { reason: 'maintenance' } : suppression || null;
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
  if (latest?.status === 'cleared') {
    const clearedAt = Date.parse(latest.clearedAt ?? latest.window.end);
    if (windowStart - clearedAt <= flapWindowMs)
      return reopened(latest, window, breach, suppressed);
  }
  if (latest && (latest.status === 'open' || latest.status === 'acknowledged')) {
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
      // The normal run counted so far goes with it: if another partition's readings take
      // this window's breach back (applyClearance), the run goes on from where it was.
      { ...foldOf(latest), ...(latest.normalStreak ? { normalStreak: latest.normalStreak } : {}) },
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

/** How alerts clear by themselves and when a breach reopens a cleared one (settings). */
export interface Hysteresis {
  /** Consecutive windows inside the clear threshold that clear an alert. */
  clearWindows: number;
  /** From the clearing window's end to a breaching window's start: a reopen, not a new alert. */
  flapWindowMs: number;
}

/** `ALERT_CLEAR_WINDOWS` and `ALERT_FLAP_MINUTES` left at their defaults. */
export const defaultHysteresis: Readonly<Hysteresis> = Object.freeze({
  clearWindows: 2,
  flapWindowMs: 30 * 60_000,
});

/**
 * `latest` (cleared) reopened by `window`'s breach: the same alert, open again, with one more
 * flap. The acknowledgement is dropped (the alert needs someone again; who acknowledged it
 * before stays in the timeline). Delivered as `alert.reopened` (see {@link nextDelivery}), or
 * `alert.escalated` when the breach is worse than the alert has been.
 */
function reopened(
  latest: Alert,
  window: AlertWindow,
  breach: Breach,
  suppressed: AlertSuppression | null,
): Alert {
  const {
    clearedAt: _clearedAt,
    clearedWindowStart: _clearedWindowStart,
    acknowledgedAt: _acknowledgedAt,
    acknowledgedBy: _acknowledgedBy,
    acknowledgementNote: _note,
    normalStreak: _streak,
    beforeLastWindow: _before,
    suppressed: _suppressed,
    ...rest
  } = latest;
  const escalated = severityRank(breach.severity) > severityRank(latest.severity);
  return withNewVersion(
    latest,
    {
      ...rest,
      status: 'open',
      flapCount: (latest.flapCount ?? 0) + 1,
      severity: escalated ? breach.severity : latest.severity,
      occurrences: latest.occurrences + 1,
      lastWindowStart: window.start,
      breach,
      window,
      beforeLastWindow: foldOf(latest),
      ...(suppressed ? { suppressed } : {}),
    },
    escalated ? 'alert.escalated' : 'alert.reopened',
    byPipeline(window),
  );
}

/** Where a metric's mean lies against a rule's clear threshold (strict, like raising). */
export interface ClearRule {
  direction: Direction;
  /** The mean must be strictly on the normal side of this (`clearThresholdOf`). */
  clear: number;
}

/**
 * Folds one window in which the alert's metric did not breach into its open or acknowledged
 * alert (hysteresis). A mean strictly inside the clear threshold counts one normal window;
 * `clearWindows` consecutive ones clear the alert (status `cleared`, `clearedAt` the end of
 * the window that completed the run, `clearedWindowStart` its start), as a new version
 * delivered as `alert.cleared`. A mean between the clear threshold and medium restarts the
 * count. Counting is bookkeeping ({@link Alert.normalStreak}) written without a new version:
 * clients learn nothing until the alert clears. A window without the metric counts neither
 * way, and a window already counted (or older than the alert's last breach) changes nothing,
 * so re-emitting a window writes the same document.
 * @param mean the window's mean of the alert's metric (every partition's readings merged).
 * @returns the alert to write, or undefined when there is nothing to change.
 */
export function applyCalm(
  latest: Alert | undefined,
  windowStart: number,
  summary: AlertWindow['summary'],
  mean: number | undefined,
  rule: ClearRule,
  clearWindows = defaultHysteresis.clearWindows,
): Alert | undefined {
  if (mean === undefined || !Number.isFinite(mean)) return undefined;
  const inside = rule.direction === 'above' ? mean < rule.clear : mean > rule.clear;
  if (
    latest?.status === 'cleared' &&
    latest.clearedWindowStart === new Date(windowStart).toISOString() &&
    !inside
  ) {
    // The window that cleared it, graded again on every partition's readings, is not normal
    // after all (one partition closed it on its readings alone): the clearing is taken back,
    // as a single partition would never have made it. The run stands at the windows before.
    const { clearedAt: _clearedAt, clearedWindowStart: _clearedWindowStart, ...rest } = latest;
    const window = alertWindow(windowStart, summary);
    return withNewVersion(
      latest,
      {
        ...rest,
        status: latest.acknowledgedAt ? 'acknowledged' : 'open',
        normalStreak: { windows: 0, before: clearWindows - 1, lastWindowStart: window.start },
      },
      'alert.reopened',
      byPipeline(window),
    );
  }
  if (!latest || (latest.status !== 'open' && latest.status !== 'acknowledged')) return undefined;
  if (windowStart <= Date.parse(latest.lastWindowStart)) return undefined;
  const streak = latest.normalStreak;
  const counted = streak ? Date.parse(streak.lastWindowStart) : undefined;
  if (counted !== undefined && windowStart < counted) return undefined;
  // The newest window counted, graded again: one partition closed it on its own readings and
  // another has since merged its part, so the merged mean replaces the partial one (a window
  // inside the threshold on one partition's readings alone may not be on all of them).
  const regraded = counted === windowStart;
  const before = regraded
    ? (streak?.before ?? Math.max(0, (streak?.windows ?? 0) - 1))
    : (streak?.windows ?? 0);
  const window = alertWindow(windowStart, summary);
  const windows = inside ? before + 1 : 0;
  if (regraded && windows === streak?.windows) return undefined;
  if (windows < clearWindows) {
    return { ...latest, normalStreak: { windows, before, lastWindowStart: window.start } };
  }
  const { normalStreak: _streak, beforeLastWindow: _before, ...rest } = latest;
  return withNewVersion(
    latest,
    { ...rest, status: 'cleared', clearedAt: window.end, clearedWindowStart: window.start },
    'alert.cleared',
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
  // A cleared alert's last breach lies behind a whole normal run: nothing to take back.
  if (!latest || latest.status === 'resolved' || latest.status === 'cleared') return undefined;
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

/**
 * Status changes a person may ask for: open → acknowledged → resolved (or open → resolved),
 * and on a cleared alert acknowledged or resolved. Nobody sets `cleared` or `open`: the
 * pipeline does. Acknowledging a cleared alert records who and when but leaves it `cleared`
 * (see {@link statusAfter}); acknowledging one already acknowledged changes nothing.
 */
export function canTransition(from: AlertStatus, to: AlertStatus): boolean {
  return (
    (from === 'open' && (to === 'acknowledged' || to === 'resolved')) ||
    (from === 'acknowledged' && to === 'resolved') ||
    (from === 'cleared' && (to === 'acknowledged' || to === 'resolved'))
  );
}

/**
 * The status an alert has after a person asks for `to`: `to`, except that a cleared alert
 * stays cleared when acknowledged (the metric is back to normal; what changes is that
 * someone has seen it, `acknowledgedBy` / `acknowledgedAt`).
 */
export function statusAfter(from: AlertStatus, to: AlertStatus): AlertStatus {
  return from === 'cleared' && to === 'acknowledged' ? 'cleared' : to;
}
