/**
 * Which silence holds an alert the pipeline writes. Silences are stored in MySQL (table
 * `silences`, served at `/api/silences`, lib/api/silences.ts); the pipeline reads those of the
 * equipment whose windows close (lib/telemetry/equipmentLookups.ts) and decides here, from the
 * window and the alert alone, so re-emitting a window with the same silences writes the same
 * document.
 */
import type { Alert, AlertMetric, AlertSuppression } from './alerts.js';
import type { MetricName } from './reading.js';

/** A silence as the pipeline matches it against one equipment's windows. */
export interface SilenceRule {
  id: number;
  /** Only this metric's alerts; null: every metric. */
  metric: MetricName | null;
  /** Epoch ms: windows ending from here on are held. */
  startsAt: number;
  /** Epoch ms: windows ending from here on are not; null: until its alert is resolved. */
  endsAt: number | null;
  /** Created from this alert: it holds that alert alone, and only while it is unresolved. */
  alertId: string | null;
}

/**
 * The id of the silence that holds the alert written for `metric` from the window ending at
 * `windowEnd`, given `current` (the equipment's current alert for the metric, the one the
 * window folds into unless it is resolved), or undefined when none does. When several match,
 * the lowest id (the oldest silence) is named, so the choice never depends on read order.
 *
 * A silence created from an alert holds only that alert, from any window (it was created to
 * stop that alert's notifications, including for a window re-graded later), until it ends or
 * the alert is resolved: a breach after the resolution opens a new alert, which it does not
 * hold. Any other silence holds the windows that end within `[startsAt, endsAt)`.
 */
export function silenceHolding(
  silences: readonly SilenceRule[],
  /** `offline` alerts are held by silences of every metric (metric null). */
  metric: AlertMetric,
  windowEnd: number,
  current: Pick<Alert, 'id' | 'status'> | undefined,
): number | undefined {
  let holding: number | undefined;
  for (const silence of silences) {
    if (silence.metric !== null && silence.metric !== metric) continue;
    if (silence.endsAt !== null && windowEnd >= silence.endsAt) continue;
    if (silence.alertId !== null) {
      if (current?.id !== silence.alertId || current.status === 'resolved') continue;
    } else if (windowEnd < silence.startsAt) continue;
    if (holding === undefined || silence.id < holding) holding = silence.id;
  }
  return holding;
}

/**
 * Why an alert written for one window (or an offline alert) is suppressed, if it is. Maintenance takes precedence
 * over silences: a machine under maintenance is muted whatever silences say, and its alerts
 * name maintenance; a silence that still holds it when maintenance ends takes over then.
 */
export function suppressionOf(
  inMaintenance: boolean,
  silences: readonly SilenceRule[],
  metric: AlertMetric,
  windowEnd: number,
  current: Alert | undefined,
): AlertSuppression | false {
  if (inMaintenance) return { reason: 'maintenance' };
  const silenceId = silenceHolding(silences, metric, windowEnd, current);
  return silenceId === undefined ? false : { reason: 'silence', silenceId };
}
