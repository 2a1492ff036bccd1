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

export interface Alert {
  /** `{equipmentId}:{metric}:{first window start}`: a replay can never raise a second one. */
  id: string;
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
    return {
      ...latest,
      severity:
        severityRank(breach.severity) > severityRank(latest.severity)
          ? breach.severity
          : latest.severity,
      occurrences: latest.occurrences + 1,
      lastWindowStart: start,
      breach,
      window,
    };
  }
  return {
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
  };
}

/** Status changes a person may make: open → acknowledged → resolved (or open → resolved). */
export function canTransition(from: AlertStatus, to: AlertStatus): boolean {
  return (
    (from === 'open' && (to === 'acknowledged' || to === 'resolved')) ||
    (from === 'acknowledged' && to === 'resolved')
  );
}
