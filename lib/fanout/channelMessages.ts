/**
 * The words of alert emails and SMS: pure functions of the alert, its equipment and the
 * dashboard link, tested directly. Every value that came from outside (equipment names,
 * locations, breach texts, alert ids) is escaped in the HTML body; the link is built here
 * from the app's configured origin only, never from stored text.
 */
import type { Alert, AlertEventType } from '../telemetry/alerts.js';
import type { EquipmentSummary } from './contacts.js';

export interface AlertEmailContent {
  subject: string;
  plainText: string;
  html: string;
}

/** What happened to the alert, as a person says it. */
export function eventLabel(alert: Alert, type: AlertEventType): string {
  if (type === 'alert.raised') return 'raised';
  if (type === 'alert.escalated') return 'escalated';
  if (type === 'alert.cleared') return 'cleared';
  if (type === 'alert.reopened') return 'reopened';
  return alert.status === 'resolved' ? 'resolved' : 'updated';
}

/** The dashboard page of the alert, under the app's public origin (undefined: no origin). */
export function alertLink(publicUrl: string | undefined, alert: Alert): string | undefined {
  if (!publicUrl) return undefined;
  const link = new URL('/api/dashboard/', publicUrl);
  link.searchParams.set('alert', alert.id);
  return link.toString();
}

const htmlEscapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => htmlEscapes[char] ?? char);
}

/** Control characters (line breaks included) would let a value forge extra lines or headers. */
const oneLine = (text: string) => text.replace(/\p{Cc}+/gu, ' ').trim();

function machineOf(alert: Alert, equipment: EquipmentSummary | undefined): string {
  const name = equipment ? oneLine(equipment.name) : `Equipment ${alert.equipmentId}`;
  return equipment?.location ? `${name} (${oneLine(equipment.location)})` : name;
}

function measured(alert: Alert): string {
  const { mean, threshold, comparison, unit } = alert.breach;
  return `mean ${mean} ${unit}, threshold ${comparison} ${threshold} ${unit}`;
}

export function alertEmail(
  alert: Alert,
  type: AlertEventType,
  equipment: EquipmentSummary | undefined,
  link: string | undefined,
): AlertEmailContent {
  const event = eventLabel(alert, type);
  const severity = alert.severity.toUpperCase();
  const machine = machineOf(alert, equipment);
  const subject = oneLine(`[${severity}] Alert ${event}: ${alert.metric} on ${machine}`).slice(
    0,
    250,
  );
  const rows: [string, string][] = [
    ['Equipment', machine],
    ['Alert', `${alert.metric}, ${alert.severity}, ${alert.status}`],
    ['What happened', alert.breach.description],
    ['Measured', measured(alert)],
    ['Window', `${alert.window.start} to ${alert.window.end} (UTC)`],
    ['Recommended action', alert.breach.recommendedAction],
  ];
  const plainText = [
    `${severity} alert ${event}: ${alert.metric} on ${machine}`,
    '',
    ...rows.map(([label, value]) => `${label}: ${value}`),
    ...(link ? ['', `Open the alert: ${link}`] : []),
    '',
    `Alert id: ${alert.id} (version ${alert.version})`,
  ].join('\n');
  const html = [
    '<!DOCTYPE html><html><body>',
    `<h1>${escapeHtml(`${severity} alert ${event}: ${alert.metric} on ${machine}`)}</h1>`,
    '<table>',
    ...rows.map(
      ([label, value]) =>
        `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`,
    ),
    '</table>',
    ...(link ? [`<p><a href="${escapeHtml(link)}">Open the alert on the dashboard</a></p>`] : []),
    `<p><small>Alert id: ${escapeHtml(alert.id)} (version ${alert.version})</small></p>`,
    '</body></html>',
  ].join('\n');
  return { subject, plainText, html };
}

/** SMS stay within one concatenated message of three segments (3 × 153 GSM characters). */
export const maxSmsLength = 459;

export function alertSms(
  alert: Alert,
  type: AlertEventType,
  equipment: EquipmentSummary | undefined,
  link: string | undefined,
): string {
  const head = oneLine(
    `SIS ${alert.severity.toUpperCase()} ${eventLabel(alert, type)}: ${alert.metric} on ${machineOf(alert, equipment)}, ${measured(alert)}.`,
  );
  const action = oneLine(alert.breach.recommendedAction);
  const tail = link ? ` ${link}` : '';
  const room = maxSmsLength - head.length - tail.length - 1;
  const body =
    room > 20 ? ` ${action.length > room ? `${action.slice(0, room - 1)}…` : action}` : '';
  return `${head}${body}${tail}`.slice(0, maxSmsLength);
}
