/**
 * Maintenance alerts: one per equipment and metric while it stays unresolved (storm
 * control). Everything the pipeline writes into an alert is derived from windows, never from
 * the wall clock, so re-emitting a window after a crash produces the same document.
 */
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
}

export interface Alert {
  /** `{equipmentId}:{metric}:{first window start}`: a replay can never raise a second one. */
  id: string;
  /** 1 when raised, +1 on every write: clients drop a repeat of a version they have. */
  version: number;
  equipmentId: string;
  metric: MetricName;
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
  breach: Breach;
  window: AlertWindow;
  acknowledgedAt?: string;
  acknowledgedBy?: string;
  resolvedAt?: string;
  resolvedBy?: string;
  /** Service record created when the alert was resolved with a work report. */
  serviceRecordId?: number;
  delivery?: AlertDelivery;
  /** Present (true) exactly while `delivery.pending` is not empty: what the sweep queries. */
  deliveryPending?: true;
}

/** An alert as the API and clients see it. */
export type PublicAlert = Omit<Alert, 'delivery' | 'deliveryPending'>;

/** The alert as the API and clients see it: without its outbox bookkeeping. */
export function publicAlert<T extends Alert>(alert: T): Omit<T, 'delivery' | 'deliveryPending'> {
  const { delivery: _delivery, deliveryPending: _pending, ...rest } = alert;
  return rest;
}

/**
 * The delivery duty of a new version. A version nobody has received yet keeps its
 * `alert.raised` type, so clients still learn of the alert as new, and a push still owed
 * stays owed; people's phones ring for raised and escalated alerts, not for every update.
 */
export function nextDelivery(
  previous: Alert | undefined,
  type: AlertEventType,
  version: number,
): AlertDelivery {
  const unsent = previous?.delivery?.pending.length ? previous.delivery : undefined;
  const effective = unsent?.type === 'alert.raised' ? 'alert.raised' : type;
  const pushOwed =
    effective !== 'alert.updated' ||
    unsent?.pending.some((target) => target.startsWith('push')) === true;
  return {
    version,
    type: effective,
    pending: pushOwed ? ['webPubSub', 'push'] : ['webPubSub'],
    attempts: 0,
  };
}

/** `alert` as a new version of `previous` (same document) that must be delivered. */
export function withNewVersion(
  previous: Alert | undefined,
  alert: Omit<Alert, 'version' | 'delivery' | 'deliveryPending'>,
  type: AlertEventType,
): Alert {
  const version = previous ? previous.version + 1 : 1;
  return {
    ...alert,
    version,
    delivery: nextDelivery(previous, type, version),
    deliveryPending: true,
  };
}

export function alertId(equipmentId: string, metric: MetricName, windowStart: number): string {
  return `${equipmentId}:${metric}:${new Date(windowStart).toISOString()}`;
}

/**
 * Folds one anomalous window into the alerts of its equipment and metric.
 * @param latest the alert for this equipment and metric with the newest window, any status.
 * @returns the alert to write, or undefined when the window is already reflected.
 */
export function applyBreach(
  latest: Alert | undefined,
  equipmentId: string,
  windowStart: number,
  summary: AlertWindow['summary'],
  breach: Breach,
): Alert | undefined {
  const start = new Date(windowStart).toISOString();
  const window: AlertWindow = {
    start,
    end: new Date(windowEndOf(windowStart)).toISOString(),
    summary,
  };
  // Windows close in order per equipment, so a window at or before the newest one seen has
  // been applied already (a re-emission after a crash).
  if (latest && Date.parse(latest.lastWindowStart) >= windowStart) return undefined;
  if (latest && latest.status !== 'resolved') {
    const escalated = severityRank(breach.severity) > severityRank(latest.severity);
    return withNewVersion(
      latest,
      {
        ...latest,
        severity: escalated ? breach.severity : latest.severity,
        occurrences: latest.occurrences + 1,
        lastWindowStart: start,
        breach,
        window,
      },
      escalated ? 'alert.escalated' : 'alert.updated',
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
    },
    'alert.raised',
  );
}

/** Status changes a person may make: open → acknowledged → resolved (or open → resolved). */
export function canTransition(from: AlertStatus, to: AlertStatus): boolean {
  return (
    (from === 'open' && (to === 'acknowledged' || to === 'resolved')) ||
    (from === 'acknowledged' && to === 'resolved')
  );
}
