/**
 * Grading a window's means into maintenance severities, with the thresholds as validated
 * configuration (a JSON app setting) so operations can tune them per equipment type
 * without a deployment, and a bad setting fails at startup naming every problem instead
 * of silently grading with half a rule set.
 */
import { z } from 'zod';
import { metricBounds, metricNames } from './reading.js';
import type { MetricName } from './reading.js';
import { defaultMetricRules, type MetricRule, type ResolvedSeverityRules } from './metricRules.js';

/** Severities, ascending. */
export const severities = ['medium', 'high', 'critical'] as const;

/** One of {@link severities}. */
export type Severity = (typeof severities)[number];

/**
 * Order of a severity: medium 1, high 2, critical 3, and 0 for none (null), so "never
 * silently de-escalate" is a plain `>=` between ranks.
 */
export function severityRank(severity: Severity | null): number {
  return severity === null ? 0 : severities.indexOf(severity) + 1;
}

/** The higher of two severities (null counts as none). */
export function maxSeverity(a: Severity | null, b: Severity | null): Severity | null {
  return severityRank(a) >= severityRank(b) ? a : b;
}

export {
  clearMargins,
  clearThresholdOf,
  type Direction,
  type MetricRule,
  type ResolvedSeverityRules,
} from './metricRules.js';

/** Why a clear threshold is not strictly on the normal side of medium, or undefined. */
export function clearProblem(rule: MetricRule): string | undefined {
  const { direction, medium, clear } = rule;
  if (clear === undefined) return undefined;
  const inside = direction === 'above' ? clear < medium : clear > medium;
  return inside
    ? undefined
    : `The clear threshold must be on the normal side of medium: ${direction === 'above' ? 'below' : 'above'} ${medium} (got ${clear})`;
}

/**
 * Per-equipment-type changes to some thresholds of a metric (the direction stays). One that
 * changes `medium` without giving `clear` moves the clear threshold with it (the margin).
 */
export type ThresholdOverride = Partial<Record<Severity | 'clear', number>>;

/** The whole rules setting. */
export interface SeverityRules {
  default: ResolvedSeverityRules;
  /** Keyed by equipment type (as in the equipment API), matched ignoring case and surrounding spaces. */
  byEquipmentType?: Record<string, Partial<Record<MetricName, ThresholdOverride>>>;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * The built-in rules ({@link defaultMetricRules}), frozen, so no caller can change
 * everybody's defaults by accident.
 */
export const defaultSeverityRules: SeverityRules = deepFreeze({
  default: structuredClone(defaultMetricRules),
});

function cloneDefaults(): ResolvedSeverityRules {
  const { temperature, vibration, pressure } = defaultSeverityRules.default;
  return {
    temperature: { ...temperature },
    vibration: { ...vibration },
    pressure: { ...pressure },
  };
}

/** Equipment types compare like this, so `Excavator ` in the setting matches `excavator`. */
function normalizeType(type: string): string {
  return type.trim().toLowerCase();
}

// ---------- schema ----------

const threshold = z.number({ error: 'Expected a finite number' });

const objectError = (issue: { input?: unknown }) =>
  issue.input === undefined ? 'Required' : 'Expected an object';

const thresholdOverrideSchema = z.strictObject(
  {
    medium: threshold.optional(),
    high: threshold.optional(),
    critical: threshold.optional(),
    clear: threshold.optional(),
  },
  { error: objectError },
);

const metricMap = <T extends z.ZodType>(schema: T) =>
  z.strictObject(
    { temperature: schema, vibration: schema, pressure: schema },
    { error: objectError },
  );

const equipmentTypeKey = z.string().refine((key) => key.trim().length > 0 && key.length <= 50, {
  error: 'Expected an equipment type of 1 to 50 characters',
});

const byEquipmentTypeSchema = z.preprocess(
  (value, ctx) => {
    // JSON.parse makes "__proto__" an ordinary own key, which zod's record drops without a
    // word (copying it would replace the prototype); a rule that silently vanishes is worse
    // than a refused setting.
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
      ctx.addIssue({
        code: 'custom',
        path: ['__proto__'],
        message: 'Not a usable equipment type',
        input: value,
      });
    }
    return value;
  },
  z.record(equipmentTypeKey, metricMap(thresholdOverrideSchema.optional()).partial(), {
    error: 'Expected an object keyed by equipment type',
  }),
);

/** Why a metric rule is not monotonic, or undefined when it is. */
export function monotonicProblem(rule: MetricRule): string | undefined {
  const { direction, medium, high, critical } = rule;
  if (direction === 'above' && !(medium < high && high < critical)) {
    return `"above" thresholds must rise: medium < high < critical (got ${medium}, ${high}, ${critical})`;
  }
  if (direction === 'below' && !(medium > high && high > critical)) {
    return `"below" thresholds must fall: medium > high > critical (got ${medium}, ${high}, ${critical})`;
  }
  return undefined;
}

const metricRuleSchema = z
  .strictObject(
    {
      direction: z.enum(['above', 'below'], { error: 'Expected "above" or "below"' }),
      medium: threshold,
      high: threshold,
      critical: threshold,
      clear: threshold.optional(),
    },
    { error: objectError },
  )
  // Checked here rather than on the whole setting so that it is reported even when some
  // other part of the setting is broken too.
  .superRefine((rule, ctx) => {
    const problem = monotonicProblem(rule);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
    const clear = clearProblem(rule);
    if (clear) ctx.addIssue({ code: 'custom', message: clear, path: ['clear'] });
  });

function applyOverrides(
  base: ResolvedSeverityRules,
  overrides: Partial<Record<MetricName, ThresholdOverride>> | undefined,
): ResolvedSeverityRules {
  const merged = {} as ResolvedSeverityRules;
  for (const metric of metricNames) {
    const override = overrides?.[metric];
    const { clear: _clear, ...withoutClear } = base[metric];
    // A new medium without its own clear threshold takes the margin from the new medium: an
    // inherited clear threshold could lie on the wrong side of it.
    const kept = override?.medium !== undefined && override.clear === undefined;
    merged[metric] = { ...(kept ? withoutClear : base[metric]), ...override };
  }
  return merged;
}

/**
 * The rules setting. `default` may be left out (the built-in defaults apply) but when given
 * must cover every metric; `byEquipmentType` changes single thresholds per type. Unknown
 * keys are refused, so a typo such as `"critcal"` fails loudly instead of being ignored.
 * Every rule must be monotonic, including each type's rules with the defaults filled in.
 */
export const severityRulesSchema: z.ZodType<SeverityRules> = z
  .strictObject(
    {
      default: metricMap(metricRuleSchema).default(cloneDefaults),
      byEquipmentType: byEquipmentTypeSchema.optional(),
    },
    { error: objectError },
  )
  .superRefine((rules, ctx) => {
    const seen = new Map<string, string>();
    for (const [type, overrides] of Object.entries(rules.byEquipmentType ?? {})) {
      const normalized = normalizeType(type);
      const earlier = seen.get(normalized);
      if (earlier !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['byEquipmentType', type],
          message: `Same equipment type as ${JSON.stringify(earlier)} (types ignore case and surrounding spaces)`,
        });
      }
      seen.set(normalized, type);
      const merged = applyOverrides(rules.default, overrides);
      for (const metric of metricNames) {
        if (overrides[metric] === undefined) continue;
        const problem = monotonicProblem(merged[metric]) ?? clearProblem(merged[metric]);
        if (problem) {
          ctx.addIssue({
            code: 'custom',
            path: ['byEquipmentType', type, metric],
            message: `With the defaults filled in, ${problem}`,
          });
        }
      }
    }
  });

/** A rules setting that cannot be used, with every problem found. */
export class SeverityRulesError extends Error {
  readonly problems: readonly { path: string; message: string }[];

  constructor(problems: readonly { path: string; message: string }[]) {
    super(
      `Invalid severity rules: ${problems
        .map((problem) => (problem.path ? `${problem.path}: ${problem.message}` : problem.message))
        .join('; ')}`,
    );
    this.name = 'SeverityRulesError';
    this.problems = problems;
  }
}

/**
 * Rules from a JSON setting. Undefined, empty or blank gives {@link defaultSeverityRules}
 * (a fresh copy); anything unusable throws a {@link SeverityRulesError} whose message
 * names each problem with its JSON pointer.
 */
export function parseSeverityRules(json: string | undefined): SeverityRules {
  if (json === undefined || json.trim() === '') return { default: cloneDefaults() };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new SeverityRulesError([{ path: '', message: `Not valid JSON: ${detail}` }]);
  }
  const result = severityRulesSchema.safeParse(value);
  if (!result.success) {
    throw new SeverityRulesError(
      result.error.issues.flatMap((issue) => {
        const paths =
          issue.code === 'unrecognized_keys'
            ? issue.keys.map((key) => [...issue.path, key])
            : [issue.path];
        const message =
          issue.code === 'unrecognized_keys'
            ? 'Unknown key'
            : issue.code === 'invalid_key'
              ? (issue.issues[0]?.message ?? issue.message)
              : issue.message;
        return paths.map((path) => ({
          path: path
            .map((token) => `/${String(token).replace(/~/g, '~0').replace(/\//g, '~1')}`)
            .join(''),
          message,
        }));
      }),
    );
  }
  return result.data;
}

/**
 * The rules for one piece of equipment: the defaults with its type's overrides applied
 * (type matched ignoring case and surrounding spaces). Returns fresh objects.
 */
export function rulesFor(
  rules: SeverityRules,
  equipmentType?: string | null,
): ResolvedSeverityRules {
  let overrides: Partial<Record<MetricName, ThresholdOverride>> | undefined;
  if (equipmentType != null && rules.byEquipmentType !== undefined) {
    const wanted = normalizeType(equipmentType);
    overrides = Object.entries(rules.byEquipmentType).find(
      ([type]) => normalizeType(type) === wanted,
    )?.[1];
  }
  return applyOverrides(rules.default, overrides);
}

// ---------- grading ----------

/** One metric whose window mean crossed a threshold, at the highest severity it reached. */
export interface Breach {
  metric: MetricName;
  severity: Severity;
  mean: number;
  threshold: number;
  comparison: '>' | '<';
  unit: string;
  /** What happened and what it risks, with the numbers. */
  description: string;
  /** What a technician should do about it. */
  recommendedAction: string;
}

/** What each metric at each severity means for the machine and what to do about it. */
export const breachGuidance: Record<
  MetricName,
  Record<Severity, { title: string; risk: string; recommendedAction: string }>
> = deepFreeze({
  temperature: {
    medium: {
      title: 'Running warm',
      risk: 'Above the normal operating range; oil thins and wear rises if it persists.',
      recommendedAction:
        'At the next stop check coolant level, clear debris from radiator and oil-cooler fins, and check the fan belt for wear and tension. Watch the next windows for a rising trend.',
    },
    high: {
      title: 'Overheating',
      risk: 'Sustained heat at this level degrades oil, seals and hoses.',
      recommendedAction:
        'Reduce load and let the machine idle to cool. Within this shift inspect coolant level, radiator and fan, thermostat and hoses for leaks; book a service if it recurs.',
    },
    critical: {
      title: 'Severe overheating',
      risk: 'Risk of engine seizure, head-gasket or hydraulic seal failure, and fire.',
      recommendedAction:
        'Stop the machine and let it cool; check coolant level, radiator and fan before restart. Do not open a hot radiator cap. Return it to service only after a technician has found the cause.',
    },
  },
  vibration: {
    medium: {
      title: 'Elevated vibration',
      risk: 'Above the range for unrestricted long-term operation (ISO 10816 zone C).',
      recommendedAction:
        'Check mounting bolts, guards and covers for looseness and rotating parts for caked material; compare with the baseline from the last service and plan an inspection.',
    },
    high: {
      title: 'High vibration',
      risk: 'Typical of developing bearing wear, imbalance or misalignment.',
      recommendedAction:
        'Within this shift inspect bearings (noise, heat, play), couplings, belt and drive alignment and engine/pump mounts; take a vibration spectrum if a meter is available and schedule the repair.',
    },
    critical: {
      title: 'Damaging vibration',
      risk: 'Risk of bearing, shaft or structural failure (ISO 10816 zone D).',
      recommendedAction:
        'Stop the machine; look for loose, cracked or broken components, failed bearings and lost counterweights. Do not restart until the cause is found and fixed.',
    },
  },
  pressure: {
    medium: {
      title: 'Low oil pressure',
      risk: 'Below the normal operating range; lubrication margin is shrinking.',
      recommendedAction:
        'Check the oil level and top up with the specified grade; look for leaks at filters, lines and seals; if the level is fine, verify the sender against a mechanical gauge.',
    },
    high: {
      title: 'Very low oil pressure',
      risk: 'Lubrication is marginal and bearing wear is accelerating.',
      recommendedAction:
        'Reduce load and return to idle. Check oil level, filter (clogged or wrong part) and the oil for dilution by fuel or coolant; change oil and filter if contaminated. Do not work the machine under load until pressure recovers.',
    },
    critical: {
      title: 'Oil pressure loss',
      risk: 'Imminent bearing and engine damage.',
      recommendedAction:
        'Shut down immediately. Do not restart until oil level, pump, pickup screen and relief valve have been checked and pressure is confirmed with a mechanical gauge.',
    },
  },
});

/** A number for a sentence: 4 decimals at most, more only when needed to differ from `other`. */
function formatForText(value: number, other: number): string {
  const short = String(Number(value.toFixed(4)));
  return value !== other && short === String(other) ? String(value) : short;
}

function breachFor(metric: MetricName, mean: number, rule: MetricRule): Breach | undefined {
  const above = rule.direction === 'above';
  // Highest severity first: a breach is reported once, at the worst level it reached.
  for (const severity of [...severities].reverse()) {
    const limit = rule[severity];
    if (above ? mean > limit : mean < limit) {
      const { unit } = metricBounds[metric];
      const guidance = breachGuidance[metric][severity];
      return {
        metric,
        severity,
        mean,
        threshold: limit,
        comparison: above ? '>' : '<',
        unit,
        description: `${guidance.title}: mean ${metric} ${formatForText(mean, limit)} ${unit} over the window is ${above ? 'above' : 'below'} the ${severity} threshold of ${formatForText(limit, mean)} ${unit}. ${guidance.risk}`,
        recommendedAction: guidance.recommendedAction,
      };
    }
  }
  return undefined;
}

/**
 * Grades a window from its metric means. Each metric breaching a threshold gives one
 * breach at the highest severity it reached; the window's severity is the highest of
 * them, or null when nothing breached. Comparisons are strict (a mean of exactly 80 °C is
 * not above 80). Breaches come worst first, then in {@link metricNames} order. A mean that
 * is missing or not finite is not graded.
 *
 * `rules` is normally what {@link rulesFor} returned for the equipment. A whole
 * {@link SeverityRules} is accepted too and means its defaults (no equipment type).
 */
export function gradeWindow(
  means: Partial<Record<MetricName, number>>,
  rules: ResolvedSeverityRules | SeverityRules,
): { severity: Severity | null; breaches: Breach[] } {
  const resolved = 'default' in rules ? rulesFor(rules) : rules;
  const breaches: Breach[] = [];
  for (const metric of metricNames) {
    const mean = means[metric];
    if (mean === undefined || !Number.isFinite(mean)) continue;
    const breach = breachFor(metric, mean, resolved[metric]);
    if (breach) breaches.push(breach);
  }
  breaches.sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  const severity = breaches.reduce<Severity | null>(
    (worst, b) => maxSeverity(worst, b.severity),
    null,
  );
  return { severity, breaches };
}
