/**
 * The shape of `bench/results.json` and the printed table. Every metric is a value measured
 * beside a baseline in the same run (this machine is shared and noisy, so absolute figures
 * mean little); `pass` says whether the figure the target applies to meets it.
 */

/** What the target is compared with: the value, value / baseline, or value − baseline. */
export type TargetOn = 'value' | 'ratio' | 'delta';

export interface MetricResult {
  value: number | null;
  baseline: number | null;
  ratio: number | null;
  target: number;
  /** `>=`: at least the target; `<=`: at most. */
  comparison: '>=' | '<=';
  targetOn: TargetOn;
  unit: string;
  pass: boolean;
  /** How it was measured (inputs, sizes) or why it was not. */
  note: string;
}

export type MetricName =
  | 'ingest_core_ratio'
  | 'ingest_core_instrumented_ratio'
  | 'cosmos_writes_per_1k_seed'
  | 'cosmos_writes_per_1k_highrate'
  | 'e2e_readings_per_s'
  | 'alert_latency_p99_ms'
  | 'alert_latency_p99_ms_small_fleet'
  | 'api_get_ratio'
  | 'api_get_instrumented_ratio'
  | 'deep_page_ratio'
  | 'cold_import_ms';

export const metricOrder: readonly MetricName[] = [
  'ingest_core_ratio',
  'ingest_core_instrumented_ratio',
  'cosmos_writes_per_1k_seed',
  'cosmos_writes_per_1k_highrate',
  'e2e_readings_per_s',
  'alert_latency_p99_ms',
  'alert_latency_p99_ms_small_fleet',
  'api_get_ratio',
  'api_get_instrumented_ratio',
  'deep_page_ratio',
  'cold_import_ms',
];

export type MetricSpec = Pick<MetricResult, 'target' | 'comparison' | 'targetOn' | 'unit'>;

export const metricSpecs: Record<MetricName, MetricSpec> = {
  ingest_core_ratio: { target: 0.5, comparison: '>=', targetOn: 'ratio', unit: 'readings/s' },
  // Instrumentation (metrics and traces recorded into the SDK) costs at most 5 %.
  ingest_core_instrumented_ratio: {
    target: 0.95,
    comparison: '>=',
    targetOn: 'ratio',
    unit: 'readings/s',
  },
  cosmos_writes_per_1k_seed: {
    target: 120,
    comparison: '<=',
    targetOn: 'value',
    unit: 'writes/1k readings',
  },
  cosmos_writes_per_1k_highrate: {
    target: 10,
    comparison: '<=',
    targetOn: 'value',
    unit: 'writes/1k readings',
  },
  e2e_readings_per_s: { target: 10_000, comparison: '>=', targetOn: 'value', unit: 'readings/s' },
  // With the production host.json (issue #19): a quiet partition waits out `maxWaitTime`.
  alert_latency_p99_ms: { target: 5000, comparison: '<=', targetOn: 'value', unit: 'ms' },
  alert_latency_p99_ms_small_fleet: {
    target: 5000,
    comparison: '<=',
    targetOn: 'value',
    unit: 'ms',
  },
  api_get_ratio: { target: 0.8, comparison: '>=', targetOn: 'ratio', unit: 'req/s' },
  api_get_instrumented_ratio: { target: 0.95, comparison: '>=', targetOn: 'ratio', unit: 'req/s' },
  deep_page_ratio: { target: 1.5, comparison: '<=', targetOn: 'ratio', unit: 'ms' },
  cold_import_ms: { target: 150, comparison: '<=', targetOn: 'delta', unit: 'ms' },
};

/** A finished measurement: value and baseline give the ratio, the spec gives the verdict. */
export function metric(
  name: MetricName,
  value: number | null,
  baseline: number | null,
  note: string,
): MetricResult {
  const spec = metricSpecs[name];
  const ratio = value !== null && baseline !== null && baseline !== 0 ? value / baseline : null;
  const judged =
    spec.targetOn === 'value'
      ? value
      : spec.targetOn === 'ratio'
        ? ratio
        : value !== null && baseline !== null
          ? value - baseline
          : null;
  const pass =
    judged !== null &&
    Number.isFinite(judged) &&
    (spec.comparison === '>=' ? judged >= spec.target : judged <= spec.target);
  return { ...spec, value, baseline, ratio, pass, note };
}

/** A metric that could not be measured: no value, not passed, and why. */
export function notMeasured(name: MetricName, reason: string): MetricResult {
  return {
    ...metricSpecs[name],
    value: null,
    baseline: null,
    ratio: null,
    pass: false,
    note: reason,
  };
}

/** Metric results a child process prints on its last line, after this marker. */
export const resultMarker = '@@bench-result ';

export function emit(results: Partial<Record<MetricName, MetricResult>>): void {
  process.stdout.write(`\n${resultMarker}${JSON.stringify(results)}\n`);
}

/** Whether `--quick` was given to this process. */
export function isQuick(argv: readonly string[] = process.argv): boolean {
  return argv.includes('--quick');
}

function format(value: number | null, digits = 2): string {
  if (value === null) return '-';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(digits);
}

/** The human table. */
export function table(metrics: Partial<Record<MetricName, MetricResult>>): string {
  const header = ['metric', 'value', 'baseline', 'ratio', 'target', 'unit', 'pass'];
  const rows = metricOrder.flatMap((name) => {
    const m = metrics[name];
    if (!m) return [];
    const target = `${m.targetOn === 'value' ? '' : `${m.targetOn} `}${m.comparison} ${format(m.target)}`;
    return [
      [
        name,
        format(m.value),
        format(m.baseline),
        format(m.ratio, 3),
        target,
        m.unit,
        m.pass ? 'yes' : 'NO',
      ],
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
