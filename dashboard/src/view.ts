/**
 * DOM building for the page. Everything that came from the server goes in as text
 * (`textContent` via `el`), never as markup.
 */
import {
  mutedLabel,
  type Alert,
  type EquipmentStatus,
  type Metric,
  type Reading,
  type WindowSummary,
} from './model.js';

type Child = Node | string | null | undefined | false;

/** An element with attributes and children; strings become text nodes. */
export function el(
  tag: string,
  attributes: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(
  id: string,
  type: new () => T = HTMLElement as unknown as new () => T,
): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`#${id} is missing from the page`);
  return element;
}

const units: Record<Exclude<Metric, 'offline'>, string> = {
  temperature: '°C',
  vibration: 'mm/s',
  pressure: 'psi',
};
const metricNames: Record<Metric, string> = {
  temperature: 'Temperature',
  vibration: 'Vibration',
  pressure: 'Pressure',
  offline: 'Offline',
};

const timeFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeFormat.format(date);
}

function formatWindow(start: string, end: string): string {
  const s = new Date(start);
  const e = new Date(end);
  if (Number.isNaN(s.getTime()) || Number.isNaN(e.getTime())) return `${start} – ${end}`;
  return `${timeFormat.format(s)} – ${clockFormat.format(e)}`;
}

function figure(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/\.?0+$/, '');
}

function statusText(alert: Alert): string {
  if (alert.status === 'acknowledged') {
    return alert.acknowledgedBy ? `acknowledged by ${alert.acknowledgedBy}` : 'acknowledged';
  }
  if (alert.status === 'resolved') {
    return alert.resolvedBy ? `resolved by ${alert.resolvedBy}` : 'resolved';
  }
  if (alert.status === 'cleared') {
    // Back to normal by itself; until someone acknowledges it, say that nobody has.
    return alert.acknowledgedBy
      ? `cleared, acknowledged by ${alert.acknowledgedBy}`
      : 'cleared, not acknowledged';
  }
  return alert.flapCount ? `open, reopened ${alert.flapCount}×` : 'open';
}

export type AlertAction = 'acknowledged' | 'resolved';

/** One alert: severity colour, equipment, window, breached metric, and its actions. */
export function alertItem(alert: Alert, busy: boolean): HTMLElement {
  const { breach } = alert;
  const label = `equipment ${alert.equipmentId} ${alert.metric}`;
  const figures =
    breach.metric === 'offline' ? undefined : alert.window.summary.metrics[breach.metric];
  const breached = figures
    ? [
        `${metricNames[breach.metric]} mean ${figure(figures.mean)} (min ${figure(figures.min)}, max ${figure(figures.max)}, ${figures.count} readings)`,
      ]
    : [];
  const actions = el('div', { class: 'actions' });
  if (alert.status === 'open' || (alert.status === 'cleared' && !alert.acknowledgedAt)) {
    actions.append(
      el(
        'button',
        {
          type: 'button',
          'data-action': 'acknowledged',
          'aria-label': `Acknowledge alert for ${label}`,
        },
        'Acknowledge',
      ),
    );
  }
  if (alert.status !== 'resolved') {
    actions.append(
      el(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'data-action': 'resolved',
          'aria-label': `Resolve alert for ${label}`,
        },
        'Resolve',
      ),
    );
  }
  for (const button of actions.querySelectorAll('button')) button.disabled = busy;
  const muted = mutedLabel(alert);
  return el(
    'li',
    {
      class: muted ? 'alert muted' : 'alert',
      'data-alert-id': alert.id,
      'data-equipment-id': alert.equipmentId,
      'data-severity': alert.severity,
      'data-status': alert.status,
    },
    el(
      'h3',
      {},
      el('span', { class: 'badge', 'data-severity': alert.severity }, alert.severity),
      el('span', { class: 'equipment-name' }, `Equipment ${alert.equipmentId}`),
      el('span', {}, `· ${metricNames[alert.metric]}`),
      el('span', { class: 'alert-status' }, `· ${statusText(alert)}`),
      muted ? el('span', { class: 'muted-label' }, muted) : null,
    ),
    el('p', { class: 'description' }, breach.description),
    el(
      'dl',
      {},
      el('dt', {}, 'Window'),
      el('dd', { class: 'window' }, formatWindow(alert.window.start, alert.window.end)),
      el('dt', {}, 'Breach'),
      el(
        'dd',
        { class: 'breach' },
        breach.metric === 'offline'
          ? `No readings for ${figure(breach.mean)} min ${breach.comparison} timeout ${figure(breach.threshold)} min`
          : `${metricNames[breach.metric]} mean ${figure(breach.mean)} ${breach.unit} ${breach.comparison} ${figure(breach.threshold)} ${breach.unit}`,
      ),
      ...(breached.length ? [el('dt', {}, 'In the window')] : []),
      ...breached.map((text) => el('dd', { class: 'window-figures' }, text)),
      el('dt', {}, 'Occurrences'),
      el('dd', {}, String(alert.occurrences)),
      el('dt', {}, 'Raised'),
      el('dd', {}, formatTime(alert.raisedAt)),
    ),
    el('p', { class: 'action' }, `Recommended: ${breach.recommendedAction}`),
    typeof alert.serviceRecordId === 'number'
      ? el('p', { class: 'service-record' }, `Service record #${alert.serviceRecordId}`)
      : null,
    actions,
  );
}

function readingList(reading: Reading): HTMLElement {
  const list = el('dl', {});
  for (const metric of ['temperature', 'vibration', 'pressure'] as const) {
    const value = reading[metric];
    if (value === undefined) continue;
    list.append(
      el('dt', {}, metricNames[metric]),
      el('dd', { 'data-metric': metric }, `${figure(value)} ${units[metric]}`),
    );
  }
  return list;
}

function windowLine(summary: WindowSummary): string {
  const parts = (['temperature', 'vibration', 'pressure'] as const).flatMap((metric) => {
    const m = summary.metrics[metric];
    return m ? [`${metricNames[metric].toLowerCase()} ${figure(m.mean)} ${units[metric]}`] : [];
  });
  return `${summary.readings} readings${parts.length ? `; means: ${parts.join(', ')}` : ''}`;
}

/** One piece of equipment's latest reading and current window. */
export function statusItem(status: EquipmentStatus): HTMLElement {
  return el(
    'li',
    { class: 'status', 'data-equipment-id': status.equipmentId, 'data-at': status.at ?? '' },
    el('h3', {}, `Equipment ${status.equipmentId}`),
    el(
      'p',
      { class: 'latest' },
      status.at ? `Latest reading ${formatTime(status.at)}` : 'No readings in the last 24 hours',
    ),
    readingList(status.reading),
    status.window
      ? el(
          'p',
          { class: 'current-window' },
          `Window ${formatWindow(status.window.start, status.window.end)}: ${windowLine(status.window.summary)}`,
        )
      : null,
  );
}
