/**
 * DOM building for the page. Everything that came from the server goes in as text
 * (`textContent` via `el`), never as markup.
 */
import { mutedLabel, type Alert, type Metric } from './model.js';

export type Child = Node | string | null | undefined | false;

/** An element with attributes and children; strings become text nodes. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
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

/** A button's `data-action`: acknowledge at once; resolve and silence open their forms. */
export type AlertAction = 'acknowledged' | 'resolved' | 'silence';

/** One alert in full: severity, machine, window, breached metric, and its actions. */
export function alertItem(alert: Alert, busy: boolean, machine: string): HTMLElement {
  const { breach } = alert;
  const label = `${machine} ${alert.metric}`;
  const figures =
    breach.metric === 'offline' ? undefined : alert.window.summary.metrics[breach.metric];
  const breached = figures
    ? [
        `${metricNames[breach.metric]} mean ${figure(figures.mean)} (min ${figure(figures.min)}, max ${figure(figures.max)}, ${figures.count} readings)`,
      ]
    : [];
  const actions = alertActions(alert, busy, label);
  const muted = mutedLabel(alert);
  return el(
    'article',
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
      el('span', { class: 'equipment-name' }, machine),
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
      el('dd', { class: 'breach' }, breachText(alert)),
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

function breachText(alert: Alert): string {
  const { breach } = alert;
  return breach.metric === 'offline'
    ? `No readings for ${figure(breach.mean)} min ${breach.comparison} timeout ${figure(breach.threshold)} min`
    : `${metricNames[breach.metric]} mean ${figure(breach.mean)} ${breach.unit} ${breach.comparison} ${figure(breach.threshold)} ${breach.unit}`;
}

/** The alert's buttons: acknowledge while nobody has, resolve and silence until resolved. */
function alertActions(alert: Alert, busy: boolean, label: string): HTMLElement {
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
        'Resolve…',
      ),
      el(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'data-action': 'silence',
          'aria-label': `Silence alert for ${label}`,
        },
        'Silence…',
      ),
    );
  }
  for (const button of actions.querySelectorAll('button')) button.disabled = busy;
  return actions;
}

/** One row of the alert table; the machine's name links to the alert's own page. */
export function alertRow(alert: Alert, busy: boolean, machine: string, site: string): HTMLElement {
  const muted = mutedLabel(alert);
  return el(
    'tr',
    {
      class: muted ? 'alert muted' : 'alert',
      'data-alert-id': alert.id,
      'data-equipment-id': alert.equipmentId,
      'data-severity': alert.severity,
      'data-status': alert.status,
    },
    // data-label names each cell where the phone layout shows rows as cards (style.css).
    el(
      'td',
      { 'data-label': 'Severity' },
      el('span', { class: 'badge', 'data-severity': alert.severity }, alert.severity),
    ),
    el(
      'td',
      { 'data-label': 'Machine', class: 'machine-cell' },
      el(
        'a',
        { href: `#/alerts/${encodeURIComponent(alert.id)}`, class: 'equipment-name' },
        machine,
      ),
      el('span', { class: 'site' }, site),
    ),
    el('td', { 'data-label': 'Metric' }, metricNames[alert.metric]),
    el('td', { class: 'breach', 'data-label': 'Breach' }, breachText(alert)),
    el(
      'td',
      { class: 'alert-status', 'data-label': 'Status' },
      statusText(alert),
      muted ? el('span', { class: 'muted-label' }, ` · ${muted}`) : null,
    ),
    el(
      'td',
      { 'data-label': 'Raised' },
      el('time', { datetime: alert.raisedAt }, formatTime(alert.raisedAt)),
    ),
    el('td', { class: 'actions-cell' }, alertActions(alert, busy, `${machine} ${alert.metric}`)),
  );
}

/** How long ago `iso` was, in words a glance reads ("3 min ago"). */
export function age(iso: string | null, now: number): string {
  if (!iso) return 'no reading';
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (Number.isNaN(seconds)) return 'unknown';
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}
