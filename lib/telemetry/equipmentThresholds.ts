/**
 * Per-equipment threshold overrides: an admin's thresholds for one machine, stored in MySQL
 * (`equipment_thresholds`), validated here and laid over the rules of its type. Each metric
 * an override names replaces all three raise thresholds of that metric, so whether the
 * override is in order never depends on the defaults or type rules of the day. The optional
 * clear threshold replaces the metric's clear threshold too (absent: the margin inside the
 * override's medium, see `clearThresholdOf`).
 */
import type { RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import type { Queryable } from '../mysql/table.js';
import { metricBounds, metricNames, type MetricName } from './reading.js';
import {
  clearProblem,
  defaultSeverityRules,
  monotonicProblem,
  type Direction,
  type MetricRule,
  type ResolvedSeverityRules,
} from './severity.js';

/** One metric's override: its raise thresholds and the optional clear threshold. */
export interface MetricThresholds {
  medium: number;
  high: number;
  critical: number;
  /** Back to normal strictly on the normal side of this (hysteresis; see `applyCalm`). */
  clear?: number | undefined;
}

/** The overrides of one machine, by metric (at least one). */
export type EquipmentThresholdMap = Partial<Record<MetricName, MetricThresholds>>;

/**
 * The side of the thresholds that is bad, per metric: the built-in one. An override keeps it
 * even when the rules setting says otherwise, since it was validated against it.
 */
export function directionOf(metric: MetricName): Direction {
  return defaultSeverityRules.default[metric].direction;
}

function boundedNumber(metric: MetricName) {
  const { min, max, unit } = metricBounds[metric];
  const range = `Expected ${metric} from ${min} to ${max} ${unit}`;
  return z
    .number({ error: `Expected a finite number in ${unit}` })
    .min(min, { error: range })
    .max(max, { error: range });
}

function metricThresholdsSchema(metric: MetricName) {
  const value = boundedNumber(metric);
  const direction = directionOf(metric);
  return z
    .strictObject(
      { medium: value, high: value, critical: value, clear: value.optional() },
      { error: 'Expected an object with medium, high and critical' },
    )
    .superRefine((rule, ctx) => {
      const problem = monotonicProblem({ direction, ...rule });
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['high'] });
      const clear = clearProblem({ direction, ...rule });
      if (clear) ctx.addIssue({ code: 'custom', path: ['clear'], message: clear });
    });
}

/** The metrics of an override; unknown metrics are refused, at least one is required. */
export const equipmentThresholdMapSchema: z.ZodType<EquipmentThresholdMap> = z
  .strictObject(
    {
      temperature: metricThresholdsSchema('temperature').optional(),
      vibration: metricThresholdsSchema('vibration').optional(),
      pressure: metricThresholdsSchema('pressure').optional(),
    },
    { error: 'Expected an object keyed by metric' },
  )
  .refine((map) => metricNames.some((metric) => map[metric] !== undefined), {
    error: `Expected thresholds for at least one of ${metricNames.join(', ')}`,
  });

/** `rules` with the overrides of one machine applied (fresh objects). */
export function applyEquipmentThresholds(
  rules: ResolvedSeverityRules,
  overrides: EquipmentThresholdMap | undefined,
): ResolvedSeverityRules {
  const applied = {} as ResolvedSeverityRules;
  for (const metric of metricNames) {
    const override = overrides?.[metric];
    const rule: MetricRule = override
      ? {
          direction: directionOf(metric),
          medium: override.medium,
          high: override.high,
          critical: override.critical,
          ...(override.clear === undefined ? {} : { clear: override.clear }),
        }
      : { ...rules[metric] };
    applied[metric] = rule;
  }
  return applied;
}

/** The stored JSON column as a map (the driver may hand MariaDB's JSON over as text). */
export function thresholdMapFromColumn(value: unknown): EquipmentThresholdMap {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return equipmentThresholdMapSchema.parse(parsed);
}

/** The overrides of those of `ids` that have any, from MySQL. */
export async function readEquipmentThresholds(
  db: Queryable,
  ids: readonly number[],
): Promise<Map<number, EquipmentThresholdMap>> {
  if (ids.length === 0) return new Map();
  const [rows] = await db.query<RowDataPacket[]>(
    'SELECT equipment_id, thresholds FROM equipment_thresholds WHERE equipment_id IN (?)',
    [ids],
  );
  return new Map(
    rows.map((row) => [Number(row['equipment_id']), thresholdMapFromColumn(row['thresholds'])]),
  );
}
