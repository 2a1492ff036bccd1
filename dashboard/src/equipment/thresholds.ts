/**
 * The raise and clear thresholds a chart draws: the built-in rules (lib/telemetry/metricRules.ts,
 * the pipeline's own defaults, bundled) with this machine's overrides from
 * `GET /api/equipment/{id}/thresholds` laid over them as the pipeline lays them
 * (lib/telemetry/equipmentThresholds.ts: an override replaces all three raise thresholds of
 * its metric, and its clear threshold or the margin inside its medium). Rules the
 * `SEVERITY_RULES` setting gives an equipment type are not visible to the page; the legend
 * says where each line comes from.
 */
import {
  clearThresholdOf,
  defaultMetricRules,
  type MetricRule,
} from '../../../lib/telemetry/metricRules.js';
import type { MetricName } from '../../../lib/telemetry/reading.js';
import { isRecord } from './api.js';

export interface DrawnThresholds {
  source: 'default' | 'override';
  direction: MetricRule['direction'];
  medium: number;
  high: number;
  critical: number;
  clear: number;
}

export type ThresholdsByMetric = Record<MetricName, DrawnThresholds>;

function overrideOf(body: unknown, metric: MetricName): MetricRule | undefined {
  if (!isRecord(body) || !isRecord(body['thresholds'])) return undefined;
  const rule = body['thresholds'][metric];
  if (!isRecord(rule)) return undefined;
  const { medium, high, critical, clear } = rule;
  if (typeof medium !== 'number' || typeof high !== 'number' || typeof critical !== 'number')
    return undefined;
  return {
    direction: defaultMetricRules[metric].direction,
    medium,
    high,
    critical,
    clear: typeof clear === 'number' ? clear : undefined,
  };
}

/** `overrides`: the thresholds answer, or undefined when the machine has none (404). */
export function thresholdsFor(overrides: unknown): ThresholdsByMetric {
  const entry = (metric: MetricName): DrawnThresholds => {
    const override = overrideOf(overrides, metric);
    const rule = override ?? defaultMetricRules[metric];
    return {
      source: override ? 'override' : 'default',
      direction: rule.direction,
      medium: rule.medium,
      high: rule.high,
      critical: rule.critical,
      clear: clearThresholdOf(metric, rule),
    };
  };
  return {
    temperature: entry('temperature'),
    vibration: entry('vibration'),
    pressure: entry('pressure'),
  };
}
