/** Alerts arranged directly (without the pipeline), for the fan-out's tests. */
import type { Container, ItemDefinition } from '@azure/cosmos';
import { applyBreach, type Alert, type AlertSuppression } from '../../lib/telemetry/alerts.js';
import { documentBody } from '../../lib/telemetry/cosmosStore.js';
import { defaultSeverityRules, gradeWindow } from '../../lib/telemetry/severity.js';

/**
 * The alert one window with this temperature mean raises, or folds into `latest`, as the
 * pipeline would write it (95: critical, 81: high, 77: medium). Throws when it is no breach.
 */
export function temperatureAlert(
  equipmentId: string,
  temperature: number,
  windowStart: number,
  latest?: Alert,
  suppression: AlertSuppression | boolean = false,
): Alert {
  const breach = gradeWindow({ temperature }, defaultSeverityRules).breaches[0];
  if (!breach) throw new Error(`temperature ${temperature} is not a breach`);
  const summary = {
    readings: 1,
    metrics: { temperature: { count: 1, min: temperature, max: temperature, mean: temperature } },
  };
  const alert = applyBreach(latest, equipmentId, windowStart, summary, breach, suppression);
  if (!alert) throw new Error('no alert');
  return alert;
}

/** The alert as it is stored now. */
export async function readStoredAlert(alerts: Container, alert: Alert): Promise<Alert> {
  const { resource } = await alerts.item(alert.id, alert.equipmentId).read<ItemDefinition>();
  if (!resource) throw new Error(`alert ${alert.id} is missing`);
  return documentBody(resource) as Alert;
}
