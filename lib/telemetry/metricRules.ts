/**
 * The built-in thresholds of each metric and how a clear threshold follows from a rule, with
 * no runtime imports: the pipeline grades with them (severity.ts re-exports all of this) and
 * the dashboard bundles them to draw a machine's thresholds without pulling zod into the page.
 */
import type { MetricName } from './reading.js';

/** Which side of the thresholds is bad: `above` (hot, shaking) or `below` (losing pressure). */
export type Direction = 'above' | 'below';

/** Thresholds of one metric. Comparisons are strict: a mean equal to a threshold does not breach it. */
export interface MetricRule {
  direction: Direction;
  medium: number;
  high: number;
  critical: number;
  /**
   * Hysteresis: an unresolved alert clears once the mean stays strictly on the normal side of
   * this for enough windows (see `applyCalm` in alerts.ts). Absent: {@link clearMargins}
   * inside `medium` (see {@link clearThresholdOf}).
   */
  clear?: number | undefined;
}

/** One rule per metric: what `rulesFor` returns and `gradeWindow` applies. */
export type ResolvedSeverityRules = Record<MetricName, MetricRule>;

/**
 * How far inside `medium` the clear threshold lies when a rule does not give one: a mean has
 * to come back clearly inside the normal range, not just under the line, before an alert
 * clears (temperature 70 for medium 75, vibration 3.5 for 4.0, pressure 13 for 12).
 */
export const clearMargins: Readonly<Record<MetricName, number>> = Object.freeze({
  temperature: 5,
  vibration: 0.5,
  pressure: 1,
});

/** The clear threshold of `metric` under `rule`: its own, or {@link clearMargins} inside medium. */
export function clearThresholdOf(metric: MetricName, rule: MetricRule): number {
  if (rule.clear !== undefined) return rule.clear;
  const margin = clearMargins[metric];
  return rule.direction === 'above' ? rule.medium - margin : rule.medium + margin;
}

/**
 * The seed design's rules: critical when mean temperature > 90 °C, vibration > 7.0 mm/s or
 * pressure < 5 psi; high at > 80, > 5.0, < 10; medium at > 75, > 4.0, < 12; alerts clear
 * below 70, below 3.5 and above 13 ({@link clearMargins} inside medium). Frozen, so no
 * caller can change everybody's defaults by accident.
 */
export const defaultMetricRules: Readonly<Record<MetricName, Readonly<MetricRule>>> = Object.freeze(
  {
    temperature: Object.freeze({
      direction: 'above',
      medium: 75,
      high: 80,
      critical: 90,
      clear: 70,
    }),
    vibration: Object.freeze({
      direction: 'above',
      medium: 4.0,
      high: 5.0,
      critical: 7.0,
      clear: 3.5,
    }),
    pressure: Object.freeze({ direction: 'below', medium: 12, high: 10, critical: 5, clear: 13 }),
  },
);
