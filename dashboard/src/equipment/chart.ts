/**
 * One metric's chart: the five-minute windows' mean as a line inside their min–max band, the
 * raise (medium, high, critical) and clear thresholds as horizontal lines, and the machine's
 * alerts of that metric as marks on the time axis, drawn with uPlot (bundled). What was drawn
 * is also written on the figure (`data-points`; `data-drawn-thresholds`, each line's value and
 * canvas position in CSS pixels; `data-drawn-alerts`)
 * and told in text beside it, since a canvas says nothing to a screen reader.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { MetricName } from '../../../lib/telemetry/reading.js';
import type { DrawnThresholds } from './thresholds.js';
import { metricUnits, type ClosedWindow, type EquipmentAlert } from './model.js';

/** Colours with text beside them: the legend names each line, so colour is never alone. */
export const thresholdColours = {
  medium: '#b45309',
  high: '#c2410c',
  critical: '#b91c1c',
  clear: '#15803d',
} as const;

const severityColours: Record<EquipmentAlert['severity'], string> = {
  medium: thresholdColours.medium,
  high: thresholdColours.high,
  critical: thresholdColours.critical,
};

export interface ChartInput {
  metric: MetricName;
  windows: ClosedWindow[];
  thresholds: DrawnThresholds;
  alerts: EquipmentAlert[];
  /** The shown range, in epoch milliseconds. */
  from: number;
  to: number;
}

export interface MetricChart {
  update(input: ChartInput): void;
  destroy(): void;
}

const chartHeight = 200;

function columns(input: ChartInput): uPlot.AlignedData {
  const xs: number[] = [];
  const means: (number | null)[] = [];
  const mins: (number | null)[] = [];
  const maxes: (number | null)[] = [];
  for (const window of input.windows) {
    const summary = window.summary.metrics[input.metric];
    if (!summary) continue;
    xs.push(Date.parse(window.windowStart) / 1000);
    means.push(summary.mean);
    mins.push(summary.min);
    maxes.push(summary.max);
  }
  return [xs, means, mins, maxes];
}

/** Draws `input` into `figure` (which the caller placed), and redraws it on `update`. */
export function createMetricChart(figure: HTMLElement, first: ChartInput): MetricChart {
  let input = first;
  const unit = metricUnits[input.metric];
  const thresholdLines = (): { kind: keyof typeof thresholdColours; value: number }[] => [
    { kind: 'medium', value: input.thresholds.medium },
    { kind: 'high', value: input.thresholds.high },
    { kind: 'critical', value: input.thresholds.critical },
    { kind: 'clear', value: input.thresholds.clear },
  ];

  const drawMarks = (u: uPlot) => {
    const { ctx, bbox } = u;
    const ratio = window.devicePixelRatio || 1;
    const drawn: { kind: string; value: number; y: number; left: number }[] = [];
    ctx.save();
    ctx.lineWidth = 2 * ratio;
    for (const line of thresholdLines()) {
      const y = Math.round(u.valToPos(line.value, 'y', true));
      if (y < bbox.top || y > bbox.top + bbox.height) continue;
      ctx.strokeStyle = thresholdColours[line.kind];
      ctx.setLineDash(line.kind === 'clear' ? [6 * ratio, 4 * ratio] : []);
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
      drawn.push({ kind: line.kind, value: line.value, y: y / ratio, left: bbox.left / ratio });
    }
    ctx.setLineDash([]);
    let alerts = 0;
    for (const alert of input.alerts) {
      const x = Math.round(u.valToPos(Date.parse(alert.firstWindowStart) / 1000, 'x', true));
      if (x < bbox.left || x > bbox.left + bbox.width) continue;
      ctx.fillStyle = severityColours[alert.severity];
      // A triangle on the time axis, pointing up at the window that raised it.
      const base = bbox.top + bbox.height;
      ctx.beginPath();
      ctx.moveTo(x, base - 10 * ratio);
      ctx.lineTo(x - 6 * ratio, base);
      ctx.lineTo(x + 6 * ratio, base);
      ctx.closePath();
      ctx.fill();
      alerts++;
    }
    ctx.restore();
    figure.dataset['drawnThresholds'] = JSON.stringify(drawn);
    figure.dataset['drawnAlerts'] = String(alerts);
  };

  const width = () => Math.max(280, Math.floor(figure.clientWidth || 600));
  const options: uPlot.Options = {
    width: width(),
    height: chartHeight,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: true, range: () => [input.from / 1000, input.to / 1000] },
      y: {
        // Always show the thresholds, however calm the data.
        range: (_u, dataMin, dataMax) => {
          const values = [...thresholdLines().map((l) => l.value)];
          if (Number.isFinite(dataMin)) values.push(dataMin);
          if (Number.isFinite(dataMax)) values.push(dataMax);
          const low = Math.min(...values);
          const high = Math.max(...values);
          const pad = (high - low) * 0.08 || 1;
          return [Math.max(0, low - pad), high + pad];
        },
      },
    },
    axes: [{}, { label: unit, size: 56 }],
    series: [
      {},
      // uPlot's default shows the points while they are sparse, so a lone window is visible.
      { label: 'mean', stroke: '#1d4ed8', width: 2 },
      { label: 'min', stroke: 'rgba(29, 78, 216, 0.25)', width: 1, points: { show: false } },
      { label: 'max', stroke: 'rgba(29, 78, 216, 0.25)', width: 1, points: { show: false } },
    ],
    bands: [{ series: [3, 2], fill: 'rgba(29, 78, 216, 0.12)' }],
    hooks: { draw: [drawMarks] },
  };
  const data = columns(input);
  figure.dataset['points'] = String(data[0].length);
  const plot = new uPlot(
    options,
    data,
    figure.querySelector<HTMLElement>('.chart-canvas') ?? figure,
  );
  const resize = new ResizeObserver(() => {
    plot.setSize({ width: width(), height: chartHeight });
  });
  resize.observe(figure);

  return {
    update(next) {
      input = next;
      const nextData = columns(input);
      figure.dataset['points'] = String(nextData[0].length);
      plot.setData(nextData);
    },
    destroy() {
      resize.disconnect();
      plot.destroy();
    },
  };
}
