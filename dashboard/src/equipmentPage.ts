/**
 * The equipment page: one machine's identity and assignments, its latest reading and the
 * window still open, charts of its closed five-minute windows over 6 hours, 24 hours or
 * 7 days with thresholds and alerts, its alert history, service records, change history and
 * (for admins) the nearest technicians. Each part is read on its own, so a slow or failing
 * read leaves the others shown; the live parts are read again every 30 seconds.
 */
import './equipmentPage.css';
import { EquipmentReadError, pageItems, readJson } from './equipment/api.js';
import { createMetricChart, thresholdColours, type MetricChart } from './equipment/chart.js';
import {
  chartMetrics,
  isAssignment,
  isEquipmentAlert,
  isEquipmentEvent,
  isEquipmentIdentity,
  isServiceRecord,
  metricUnits,
  nearbyTechnicians,
  parseTelemetry,
  rolesOf,
  type EquipmentAlert,
  type Telemetry,
} from './equipment/model.js';
import { thresholdsFor, type ThresholdsByMetric } from './equipment/thresholds.js';
import { el, type Child } from './view.js';

/** The ranges a user picks between; 7 days is the longest the telemetry API answers. */
export const chartRanges = [
  { key: '6h', label: '6 hours', ms: 6 * 3_600_000 },
  { key: '24h', label: '24 hours', ms: 24 * 3_600_000 },
  { key: '7d', label: '7 days', ms: 7 * 86_400_000 },
] as const;
type RangeKey = (typeof chartRanges)[number]['key'];

const refreshMs = 30_000;

function section(id: string, title: string): { section: HTMLElement; body: HTMLElement } {
  const body = el('div', { class: 'eq-body' }, el('p', { class: 'eq-loading' }, 'Loading…'));
  const element = el(
    'section',
    { class: 'eq-panel', id: `eq-${id}`, 'aria-labelledby': `eq-${id}-title` },
    el('h2', { id: `eq-${id}-title` }, title),
    body,
  );
  return { section: element, body };
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const time = (iso: string) => dateTime.format(new Date(iso));
const capitalized = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);
const number = (value: number) => value.toLocaleString(undefined, { maximumFractionDigits: 2 });

function definitionList(rows: [string, Child][]): HTMLDListElement {
  const list = el('dl', { class: 'eq-facts' });
  for (const [term, value] of rows) list.append(el('dt', {}, term), el('dd', {}, value || '—'));
  return list;
}

function problemText(error: unknown): string {
  if (error instanceof EquipmentReadError && error.status === 403)
    return 'Not available to your role.';
  return error instanceof Error ? error.message : String(error);
}

export function renderEquipmentPage(root: HTMLElement, equipmentId: string): () => void {
  const aborter = new AbortController();
  const { signal } = aborter;
  const id = encodeURIComponent(equipmentId);
  let range: RangeKey = '24h';
  let thresholds: ThresholdsByMetric = thresholdsFor(undefined);
  let alerts: EquipmentAlert[] = [];
  let telemetry: Telemetry | undefined;
  const charts = new Map<string, MetricChart>();

  const heading = el('h1', { id: 'eq-title' }, `Equipment ${equipmentId}`);
  const identity = section('identity', 'Identity and assignments');
  const live = section('live', 'Latest reading');
  const trends = section('trends', 'Five-minute windows');
  const alertHistory = section('alerts', 'Alert history');
  const service = section('service', 'Service records');
  const history = section('history', 'Equipment history');
  const nearest = section('nearest', 'Nearest technicians');
  nearest.section.hidden = true;
  const page = el(
    'article',
    { class: 'equipment-page', 'aria-labelledby': 'eq-title', 'data-equipment-id': equipmentId },
    heading,
    identity.section,
    live.section,
    trends.section,
    alertHistory.section,
    service.section,
    history.section,
    nearest.section,
  );
  root.replaceChildren(page);

  /** Runs one part's read; its failure is told in its own section and nowhere else. */
  const load = (body: HTMLElement, read: () => Promise<void>) => {
    read().catch((error: unknown) => {
      if (signal.aborted) return;
      body.replaceChildren(el('p', { class: 'eq-problem', role: 'status' }, problemText(error)));
    });
  };

  // ---------- identity and assignments ----------
  load(identity.body, async () => {
    const [equipment, assignments] = await Promise.all([
      readJson(`equipment/${id}`, signal),
      readJson(`equipment/${id}/technicians?limit=100`, signal).catch(() => undefined),
    ]);
    if (!isEquipmentIdentity(equipment)) throw new Error('Unexpected equipment answer.');
    heading.textContent = equipment.name;
    const assigned = pageItems(assignments, isAssignment);
    identity.body.replaceChildren(
      definitionList([
        ['Type', equipment.type],
        ['Status', equipment.status],
        ['Site', equipment.location],
        ['Serial number', equipment.serialNumber],
        ['Make and model', [equipment.manufacturer, equipment.model].filter(Boolean).join(' ')],
        ['Commissioned', equipment.commissionedOn],
        [
          'Assigned',
          assigned.length
            ? assigned
                .map((a) => `${a.technician.name} (${a.technician.specialization})`)
                .join(', ')
            : 'Nobody',
        ],
      ]),
    );
  });

  // ---------- latest reading and current window ----------
  const renderLive = () => {
    if (!telemetry) return;
    const { latest, currentWindow } = telemetry;
    const rows: [string, Child][] = [];
    rows.push(['Taken', latest ? time(latest.timestamp) : 'No reading yet']);
    for (const metric of chartMetrics) {
      const value = latest?.[metric];
      rows.push([
        capitalized(metric),
        value === undefined ? null : `${number(value)} ${metricUnits[metric]}`,
      ]);
    }
    const windowText = currentWindow
      ? `${time(currentWindow.start)} – ${time(currentWindow.end)}: ${currentWindow.summary.readings} readings, ` +
        chartMetrics
          .map((metric) => {
            const s = currentWindow.summary.metrics[metric];
            return s
              ? `${metric} mean ${number(s.mean)} (${number(s.min)}–${number(s.max)}) ${metricUnits[metric]}`
              : '';
          })
          .filter(Boolean)
          .join('; ')
      : 'No window open.';
    rows.push(['Current window', windowText]);
    live.body.replaceChildren(definitionList(rows));
    live.body.querySelectorAll('dd').forEach((dd, index) => {
      const metric = chartMetrics[index - 1];
      if (metric) dd.dataset['metric'] = metric;
    });
  };

  // ---------- charts ----------
  const rangeGroup = el('div', { class: 'eq-ranges', role: 'group', 'aria-label': 'Time range' });
  for (const option of chartRanges) {
    const button = el('button', { type: 'button', 'data-range': option.key }, option.label);
    button.addEventListener('click', () => {
      range = option.key;
      refreshTelemetry();
    });
    rangeGroup.append(button);
  }
  const chartFigures = new Map<string, HTMLElement>();
  const chartList = el('div', { class: 'eq-charts' });
  for (const metric of chartMetrics) {
    const caption = el('figcaption', {});
    const figure = el(
      'figure',
      { class: 'eq-chart', 'data-metric': metric },
      caption,
      el('div', { class: 'chart-canvas', 'aria-hidden': 'true' }),
    );
    chartFigures.set(metric, figure);
    chartList.append(figure);
  }
  const status = el('p', { class: 'eq-hint', role: 'status' });
  trends.body.replaceChildren(rangeGroup, status, chartList);

  const renderCharts = () => {
    if (!telemetry) return;
    const selected = chartRanges.find((r) => r.key === range) ?? chartRanges[1];
    const to = Date.now();
    const from = to - selected.ms;
    for (const button of rangeGroup.querySelectorAll('button'))
      button.setAttribute('aria-pressed', String(button.dataset['range'] === range));
    status.textContent = `${telemetry.history.length} closed windows over the last ${selected.label}.`;
    for (const metric of chartMetrics) {
      const figure = chartFigures.get(metric);
      if (!figure) continue;
      const rule = thresholds[metric];
      const metricAlerts = alerts.filter((a) => a.metric === metric);
      const caption = figure.querySelector('figcaption');
      const word = rule.direction === 'above' ? 'above' : 'below';
      caption?.replaceChildren(
        el('strong', {}, `${capitalized(metric)} (${metricUnits[metric]})`),
        ': mean of each window, with its min–max band. ',
        el(
          'span',
          { class: 'eq-legend' },
          ...(['medium', 'high', 'critical', 'clear'] as const).map((kind) => {
            const key = el(
              'span',
              { class: `eq-line eq-line-${kind}` },
              kind === 'clear'
                ? `clears ${rule.direction === 'above' ? 'below' : 'above'} ${number(rule.clear)}`
                : `${kind} ${word} ${number(rule[kind])}`,
            );
            // Through the CSSOM: the dashboard's CSP (functions/dashboard.ts) refuses style attributes.
            key.style.setProperty('--line', thresholdColours[kind]);
            return key;
          }),
        ),
        ` (${rule.source === 'override' ? "this machine's thresholds" : 'default thresholds'}; ` +
          `${metricAlerts.length} alert${metricAlerts.length === 1 ? '' : 's'} marked on the time axis).`,
      );
      const input = {
        metric,
        windows: telemetry.history,
        thresholds: rule,
        alerts: metricAlerts,
        from,
        to,
      };
      const chart = charts.get(metric);
      if (chart) chart.update(input);
      else charts.set(metric, createMetricChart(figure, input));
    }
  };

  let telemetryRun = 0;
  function refreshTelemetry(): void {
    const run = ++telemetryRun;
    const selected = chartRanges.find((r) => r.key === range) ?? chartRanges[1];
    const to = new Date();
    const query = new URLSearchParams({
      from: new Date(to.getTime() - selected.ms).toISOString(),
      to: to.toISOString(),
    });
    load(live.body, async () => {
      const parsed = parseTelemetry(await readJson(`equipment/${id}/telemetry?${query}`, signal));
      if (!parsed) throw new Error('Unexpected telemetry answer.');
      // A slower answer for a range the user has since left is dropped.
      if (run !== telemetryRun || signal.aborted) return;
      telemetry = parsed;
      renderLive();
      renderCharts();
    });
  }

  // ---------- thresholds and alerts (also drawn on the charts) ----------
  void readJson(`equipment/${id}/thresholds`, signal)
    .then(
      (body) => thresholdsFor(body),
      // 404 means no overrides; for any other failure the defaults are still the best guess,
      // and the legend says they are the defaults.
      () => thresholdsFor(undefined),
    )
    .then((read) => {
      if (signal.aborted) return;
      thresholds = read;
      renderCharts();
    });

  const renderAlerts = () => {
    if (alerts.length === 0) {
      alertHistory.body.replaceChildren(el('p', {}, 'No alerts.'));
      return;
    }
    const rows = alerts.map((alert) =>
      el(
        'tr',
        { 'data-alert-id': alert.id, 'data-severity': alert.severity },
        el('td', {}, time(alert.raisedAt)),
        el(
          'td',
          {},
          el('span', { class: `eq-severity eq-severity-${alert.severity}` }, alert.severity),
        ),
        el('td', {}, alert.metric),
        el(
          'td',
          {},
          `${number(alert.breach.mean)} ${alert.breach.unit} ${alert.breach.comparison} ${number(alert.breach.threshold)} ${alert.breach.unit}`,
        ),
        el('td', {}, alert.status),
      ),
    );
    alertHistory.body.replaceChildren(
      el(
        'div',
        // Focusable, so a keyboard can scroll the table sideways when it is wider than a phone.
        { class: 'eq-scroll', role: 'region', 'aria-label': 'Alert history', tabindex: '0' },
        el(
          'table',
          {},
          el('caption', { class: 'visually-hidden' }, 'Alerts of this machine, newest first'),
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ...['Raised', 'Severity', 'Metric', 'Breach', 'Status'].map((h) =>
                el('th', { scope: 'col' }, h),
              ),
            ),
          ),
          el('tbody', {}, ...rows),
        ),
      ),
    );
  };
  const refreshAlerts = () => {
    load(alertHistory.body, async () => {
      const query = new URLSearchParams({ equipmentId, limit: '100' });
      const body = await readJson(`alerts?${query}`, signal);
      if (signal.aborted) return;
      alerts = pageItems(body, isEquipmentAlert);
      renderAlerts();
      renderCharts();
    });
  };

  // ---------- service records, history, nearest technicians ----------
  load(service.body, async () => {
    const body = await readJson(`service-records?equipmentId=${id}&limit=50`, signal);
    const records = pageItems(body, isServiceRecord);
    service.body.replaceChildren(
      records.length
        ? el(
            'ul',
            { class: 'eq-list' },
            ...records.map((r) =>
              el(
                'li',
                { 'data-service-record-id': String(r.id) },
                el('strong', {}, `${r.serviceDate} · ${r.serviceType} · ${r.status}`),
                el('br'),
                r.description,
              ),
            ),
          )
        : el('p', {}, 'No service records.'),
    );
  });

  load(history.body, async () => {
    const body = await readJson(`equipment/${id}/history?limit=50`, signal);
    const events = pageItems(body, isEquipmentEvent);
    history.body.replaceChildren(
      events.length
        ? el(
            'ol',
            { class: 'eq-list' },
            ...events.map((event) =>
              el(
                'li',
                {},
                el('strong', {}, `${time(event.occurredAt)} · ${event.type}`),
                ` by ${event.actor}`,
                event.after ? ` · ${Object.keys(event.after).join(', ')}` : '',
              ),
            ),
          )
        : el('p', {}, 'No recorded changes.'),
    );
  });

  load(nearest.body, async () => {
    if (!rolesOf(await readJson('me', signal)).includes('Admin')) return;
    nearest.section.hidden = false;
    const technicians = nearbyTechnicians(
      await readJson(`equipment/${id}/nearest-technicians`, signal),
    );
    nearest.body.replaceChildren(
      technicians.length
        ? el(
            'ol',
            { class: 'eq-list' },
            ...technicians.map((t) =>
              el('li', {}, `${t.name} (${t.specialization}) · ${number(t.distanceKm)} km`),
            ),
          )
        : el('p', {}, 'No technician has shared a position.'),
    );
  });

  refreshTelemetry();
  refreshAlerts();
  const timer = window.setInterval(() => {
    refreshTelemetry();
    refreshAlerts();
  }, refreshMs);

  return () => {
    window.clearInterval(timer);
    aborter.abort();
    for (const chart of charts.values()) chart.destroy();
    charts.clear();
    page.remove();
  };
}
