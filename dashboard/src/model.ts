/**
 * What the page receives from the API and from Web PubSub, checked at the edge: the server
 * is trusted to send these shapes, but a message that is not one is dropped, never rendered.
 * No DOM here, so the feed's rules are testable on their own.
 */

import type { AlertEventType, PublicAlert } from '../../lib/telemetry/alerts.js';

// The alert's shape is declared once, by the pipeline (`PublicAlert` in
// lib/telemetry/alerts.ts; the API's `Alert` schema is checked against it). Type-only, so
// nothing of the server reaches the bundle.

export type Severity = PublicAlert['severity'];
export type AlertStatus = PublicAlert['status'];
export type Metric = PublicAlert['metric'];
export type WindowSummary = PublicAlert['window']['summary'];
export type MetricSummary = NonNullable<WindowSummary['metrics'][Exclude<Metric, 'offline'>]>;

/**
 * An alert as the API and live messages carry it. `version` is left optional because the
 * page checks it where it relies on it; the HTTP ETag comes with REST answers only.
 */
export type Alert = Omit<PublicAlert, 'version'> & {
  /** 1 when raised, +1 on every change (REST answers and messages both carry it). */
  version?: number;
  /** The HTTP ETag (REST answers only). */
  etag?: string;
};

/** `GET /api/me`. */
export interface Me {
  subject: string;
  roles: string[];
  technicianId: number | null;
  /** null: every piece of equipment (admins). */
  equipmentIds: number[] | null;
}

export interface Reading {
  temperature?: number;
  vibration?: number;
  pressure?: number;
}

/** One piece of equipment's latest status, from the telemetry route or a live message. */
export interface EquipmentStatus {
  equipmentId: string;
  /** ISO time of the latest reading, or null before any. */
  at: string | null;
  reading: Reading;
  window: { start: string; end: string; summary: WindowSummary } | null;
}

export type AlertMessageType = AlertEventType;

export type LiveMessage =
  | { type: AlertMessageType; alert: Alert; version: number }
  | { type: 'equipment.status'; status: EquipmentStatus };

// Every value of each union, checked by the compiler both ways (a missing one fails too).
const severities: readonly string[] = allOf<Severity>()(['medium', 'high', 'critical']);
const statuses: readonly string[] = allOf<AlertStatus>()([
  'open',
  'acknowledged',
  'resolved',
  'cleared',
]);
const alertMessageTypes: readonly string[] = allOf<AlertMessageType>()([
  'alert.raised',
  'alert.escalated',
  'alert.updated',
  'alert.cleared',
  'alert.reopened',
]);

function isAlertMessageType(value: unknown): value is AlertMessageType {
  return isString(value) && alertMessageTypes.includes(value);
}
const metrics: readonly string[] = allOf<Metric>()([
  'temperature',
  'vibration',
  'pressure',
  'offline',
]);

/** `values` as a list of every member of `T`: a missing or unknown one does not compile. */
function allOf<T extends string>() {
  return <const V extends readonly T[]>(
    values: V & ([T] extends [V[number]] ? unknown : { missing: Exclude<T, V[number]> }),
  ): V => values;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/**
 * The label of a muted alert (equipment in maintenance, or held by a silence: stored, nobody
 * notified), in words so it reads without the muted colour, naming the silence
 * (`/api/silences/{id}`); undefined for an alert that is not muted.
 */
export function mutedLabel(alert: Pick<Alert, 'suppressed'>): string | undefined {
  const { suppressed } = alert;
  if (!suppressed) return undefined;
  return suppressed.reason === 'silence'
    ? `Muted: silence ${suppressed.silenceId}`
    : `Muted: ${suppressed.reason}`;
}

/** An alert with the fields the page shows; anything else about it is left as sent. */
export function isAlert(value: unknown): value is Alert {
  if (!isRecord(value)) return false;
  const { breach, window } = value;
  return (
    isString(value['id']) &&
    isString(value['equipmentId']) &&
    isString(value['metric']) &&
    metrics.includes(value['metric']) &&
    isString(value['status']) &&
    statuses.includes(value['status']) &&
    isString(value['severity']) &&
    severities.includes(value['severity']) &&
    isNumber(value['occurrences']) &&
    isString(value['raisedAt']) &&
    isRecord(breach) &&
    isNumber(breach['mean']) &&
    isNumber(breach['threshold']) &&
    isString(breach['unit']) &&
    isString(breach['description']) &&
    isString(breach['recommendedAction']) &&
    isRecord(window) &&
    isString(window['start']) &&
    isString(window['end']) &&
    isRecord(window['summary']) &&
    isRecord(window['summary']['metrics'])
  );
}

function readingOf(value: unknown): Reading {
  const reading: Reading = {};
  if (!isRecord(value)) return reading;
  for (const metric of ['temperature', 'vibration', 'pressure'] as const) {
    const figure = value[metric];
    if (isNumber(figure)) reading[metric] = figure;
  }
  return reading;
}

function windowOf(value: unknown): EquipmentStatus['window'] {
  if (!isRecord(value) || !isString(value['start']) || !isString(value['end'])) return null;
  const summary = value['summary'];
  const metricsIn = isRecord(summary) && isRecord(summary['metrics']) ? summary['metrics'] : {};
  const out: WindowSummary = {
    readings: isRecord(summary) && isNumber(summary['readings']) ? summary['readings'] : 0,
    metrics: {},
  };
  for (const metric of ['temperature', 'vibration', 'pressure'] as const) {
    const m = metricsIn[metric];
    if (isRecord(m) && isNumber(m['count']) && isNumber(m['min']) && isNumber(m['max'])) {
      if (isNumber(m['mean'])) {
        out.metrics[metric] = { count: m['count'], min: m['min'], max: m['max'], mean: m['mean'] };
      }
    }
  }
  return { start: value['start'], end: value['end'], summary: out };
}

/** A Web PubSub message's data (JSON, or JSON text) as one of the envelopes, or undefined. */
export function parseLiveMessage(data: unknown): LiveMessage | undefined {
  let value = data;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  }
  if (!isRecord(value)) return undefined;
  const type = value['type'];
  if (isAlertMessageType(type)) {
    const alert = value['alert'];
    if (!isAlert(alert)) return undefined;
    const version = (alert as unknown as Record<string, unknown>)['version'];
    if (!isNumber(version)) return undefined;
    return { type, alert, version };
  }
  if (type === 'equipment.status') {
    const equipmentId = value['equipmentId'];
    if (!isString(equipmentId) && !isNumber(equipmentId)) return undefined;
    const at = value['at'];
    return {
      type,
      status: {
        equipmentId: String(equipmentId),
        at: isString(at) ? at : null,
        reading: readingOf(value['reading']),
        window: windowOf(value['window']),
      },
    };
  }
  return undefined;
}

/** `GET /api/equipment/{id}/telemetry` as a status. */
export function statusFromTelemetry(equipmentId: string, body: unknown): EquipmentStatus {
  const status: EquipmentStatus = { equipmentId, at: null, reading: {}, window: null };
  if (!isRecord(body)) return status;
  const latest = body['latest'];
  if (isRecord(latest)) {
    status.reading = readingOf(latest);
    const timestamp = latest['timestamp'];
    if (isString(timestamp)) status.at = timestamp;
  }
  status.window = windowOf(body['currentWindow']);
  return status;
}

export function isMe(value: unknown): value is Me {
  if (!isRecord(value)) return false;
  const ids = value['equipmentIds'];
  return (
    isString(value['subject']) &&
    Array.isArray(value['roles']) &&
    value['roles'].every(isString) &&
    (ids === null || (Array.isArray(ids) && ids.every(isNumber)))
  );
}

interface Entry {
  alert: Alert;
  /** The highest message version applied; undefined while only REST answers were seen. */
  version: number | undefined;
}

/**
 * The alert feed: one entry per alert id, newest raised first. A message whose version is
 * not above the one applied is a repeat (a technician gets the same alert through the
 * equipment group and by user id) or stale, and is dropped.
 */
export class AlertFeed {
  readonly #entries = new Map<string, Entry>();
  /** Equipment the user may see; null for everything. */
  #scope: ReadonlySet<string> | null = null;

  setScope(equipmentIds: readonly (number | string)[] | null): void {
    this.#scope = equipmentIds === null ? null : new Set(equipmentIds.map(String));
    for (const id of [...this.#entries.keys()]) {
      const entry = this.#entries.get(id);
      if (entry && !this.inScope(entry.alert.equipmentId)) this.#entries.delete(id);
    }
  }

  inScope(equipmentId: string): boolean {
    return this.#scope === null || this.#scope.has(equipmentId);
  }

  /** Applies a live message; true when it changed the feed. */
  applyMessage(alert: Alert, version: number): boolean {
    if (!this.inScope(alert.equipmentId)) return false;
    const known = this.#entries.get(alert.id);
    if (known?.version !== undefined && version <= known.version) return false;
    // A message without an ETag makes any ETag read before it stale: the next action re-reads.
    this.#entries.set(alert.id, { alert, version });
    return true;
  }

  /**
   * Applies an alert read over HTTP, unless a message already brought a newer version (the
   * read started before that change and finished after it).
   */
  applyRead(alert: Alert): boolean {
    if (!this.inScope(alert.equipmentId)) return false;
    const known = this.#entries.get(alert.id);
    const read = typeof alert.version === 'number' ? alert.version : undefined;
    if (read !== undefined && known?.version !== undefined && read < known.version) return false;
    this.#entries.set(alert.id, { alert, version: read ?? known?.version });
    return true;
  }

  get(id: string): Alert | undefined {
    return this.#entries.get(id)?.alert;
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Newest raised first; ties by id, so the order is stable. */
  list(): Alert[] {
    return [...this.#entries.values()]
      .map((e) => e.alert)
      .sort((a, b) =>
        a.raisedAt === b.raisedAt ? a.id.localeCompare(b.id) : a.raisedAt < b.raisedAt ? 1 : -1,
      );
  }

  get size(): number {
    return this.#entries.size;
  }
}

// ---------- the fleet ----------

/** `GET /api/equipment` items, as far as the page uses them. */
export interface Equipment {
  id: number;
  serialNumber: string | null;
  name: string;
  type: string;
  location: string | null;
  status: string;
}

/** A machine of `GET /api/fleet`, with the time of its latest reading (to the minute). */
export interface FleetMachine extends Equipment {
  lastReadingAt: string | null;
}

/** The columns of `GET /api/fleet` rows, in the order the page expects them. */
const fleetColumns = [
  'id',
  'name',
  'type',
  'location',
  'serialNumber',
  'status',
  'lastReadingAt',
] as const;

const isStringOrNull = (value: unknown): value is string | null =>
  value === null || isString(value);

/**
 * The machines of a `GET /api/fleet` answer (`columns` and array `rows`); rows of another
 * shape are dropped, and an answer whose columns are not the expected ones is refused.
 */
export function fleetFromAnswer(body: unknown): FleetMachine[] | undefined {
  if (!isRecord(body) || !Array.isArray(body['rows']) || !Array.isArray(body['columns']))
    return undefined;
  const columns: unknown[] = body['columns'];
  if (columns.length !== fleetColumns.length || fleetColumns.some((c, i) => columns[i] !== c))
    return undefined;
  return (body['rows'] as unknown[]).flatMap((row): FleetMachine[] => {
    if (!Array.isArray(row)) return [];
    const cells: readonly unknown[] = row;
    const [id, name, type, location, serialNumber, status, lastReadingAt] = cells;
    return isNumber(id) &&
      isString(name) &&
      isString(type) &&
      isStringOrNull(location) &&
      isStringOrNull(serialNumber) &&
      isString(status) &&
      isStringOrNull(lastReadingAt)
      ? [{ id, name, type, location, serialNumber, status, lastReadingAt }]
      : [];
  });
}

/** The newer of two ISO times (either may be missing). */
export function newerTime(a: string | null | undefined, b: string | null | undefined) {
  if (!a) return b ?? null;
  if (!b) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

const severityRank: Record<Severity, number> = { critical: 3, high: 2, medium: 1 };

/** An alert that still wants attention: neither back to normal nor dealt with. */
export function isUnsettled(alert: Pick<Alert, 'status'>): boolean {
  return alert.status === 'open' || alert.status === 'acknowledged';
}

/** Critical first, then newest raised; ties by id, so the order is stable. */
export function compareByPriority(a: Alert, b: Alert): number {
  const bySeverity = severityRank[b.severity] - severityRank[a.severity];
  if (bySeverity) return bySeverity;
  if (a.raisedAt !== b.raisedAt) return a.raisedAt < b.raisedAt ? 1 : -1;
  return a.id.localeCompare(b.id);
}

/** Each machine's most severe unsettled alert (open or acknowledged). */
export function worstAlerts(alerts: Iterable<Alert>): Map<string, Severity> {
  const worst = new Map<string, Severity>();
  for (const alert of alerts) {
    if (!isUnsettled(alert)) continue;
    const known = worst.get(alert.equipmentId);
    if (!known || severityRank[alert.severity] > severityRank[known]) {
      worst.set(alert.equipmentId, alert.severity);
    }
  }
  return worst;
}

/** How the fleet grid is narrowed; an empty string means "any". */
export interface FleetFilter {
  type: string;
  site: string;
  status: string;
  /** A severity, 'none' for machines without an unsettled alert, or '' for any. */
  severity: string;
  /** Part of the name or serial number, any case. */
  search: string;
}

export function filterFleet<Machine extends Equipment>(
  fleet: readonly Machine[],
  worst: ReadonlyMap<string, Severity>,
  filter: FleetFilter,
): Machine[] {
  const search = filter.search.trim().toLowerCase();
  return fleet.filter((machine) => {
    const severity = worst.get(String(machine.id)) ?? 'none';
    return (
      (!filter.type || machine.type === filter.type) &&
      (!filter.site || (machine.location ?? '') === filter.site) &&
      (!filter.status || machine.status === filter.status) &&
      (!filter.severity || severity === filter.severity) &&
      (!search ||
        machine.name.toLowerCase().includes(search) ||
        (machine.serialNumber ?? '').toLowerCase().includes(search))
    );
  });
}

/** Machines counted by their status and by their worst unsettled alert ('none' without one). */
export function fleetCounts(
  fleet: readonly Equipment[],
  worst: ReadonlyMap<string, Severity>,
): { byStatus: Map<string, number>; bySeverity: Map<Severity | 'none', number> } {
  const byStatus = new Map<string, number>();
  const bySeverity = new Map<Severity | 'none', number>();
  for (const machine of fleet) {
    byStatus.set(machine.status, (byStatus.get(machine.status) ?? 0) + 1);
    const severity = worst.get(String(machine.id)) ?? 'none';
    bySeverity.set(severity, (bySeverity.get(severity) ?? 0) + 1);
  }
  return { byStatus, bySeverity };
}

/** How the alert table is narrowed; an empty string means "any". */
export interface AlertFilter {
  severity: string;
  /** An alert status, or 'suppressed' for muted alerts. */
  status: string;
  metric: string;
  type: string;
  site: string;
}

export function filterAlerts(
  alerts: readonly Alert[],
  fleet: ReadonlyMap<string, Equipment>,
  filter: AlertFilter,
): Alert[] {
  return alerts.filter((alert) => {
    const machine = fleet.get(alert.equipmentId);
    const statusMatches =
      !filter.status ||
      (filter.status === 'suppressed'
        ? alert.suppressed !== undefined
        : alert.status === filter.status);
    return (
      statusMatches &&
      (!filter.severity || alert.severity === filter.severity) &&
      (!filter.metric || alert.metric === filter.metric) &&
      (!filter.type || machine?.type === filter.type) &&
      (!filter.site || (machine?.location ?? '') === filter.site)
    );
  });
}

export type AlertSortKey = 'priority' | 'raisedAt' | 'machine' | 'metric' | 'status';

export function sortAlerts(
  alerts: readonly Alert[],
  key: AlertSortKey,
  descending: boolean,
  nameOf: (equipmentId: string) => string,
): Alert[] {
  const compare: (a: Alert, b: Alert) => number =
    key === 'priority'
      ? compareByPriority
      : key === 'raisedAt'
        ? (a, b) => (a.raisedAt === b.raisedAt ? 0 : a.raisedAt < b.raisedAt ? -1 : 1)
        : key === 'machine'
          ? (a, b) =>
              nameOf(a.equipmentId).localeCompare(nameOf(b.equipmentId), undefined, {
                numeric: true,
              })
          : (a, b) => a[key].localeCompare(b[key]);
  // Priority is already "most urgent first"; the other keys sort ascending unless flipped.
  const sign = key === 'priority' ? (descending ? 1 : -1) : descending ? -1 : 1;
  return [...alerts].sort((a, b) => sign * compare(a, b) || compareByPriority(a, b));
}

/** `GET /api/alerts/{id}/comments` items. */
export interface AlertComment {
  id: number;
  author: string;
  at: string;
  text: string;
}

export function isAlertComment(value: unknown): value is AlertComment {
  return (
    isRecord(value) &&
    isNumber(value['id']) &&
    isString(value['author']) &&
    isString(value['at']) &&
    isString(value['text'])
  );
}

// ---------- resolving and silencing ----------

/**
 * The work recorded when resolving an alert: `serviceRecord` of `PATCH /api/alerts/{id}`
 * (lib/api/schemas.ts `alertResolutionWorkSchema`), which the API stores once as a completed
 * service record linked to the alert.
 */
export interface ResolutionWork {
  description: string;
  laborHours?: number;
  serviceType?: string;
}

/** The resolve form's fields, as typed. */
export interface ResolutionFields {
  description: string;
  laborHours: string;
  serviceType: string;
}

/**
 * The form's fields as the API's `serviceRecord`, or what is wrong with them (the same rules
 * the API applies, said before the request rather than after it).
 */
export function resolutionWork(
  fields: ResolutionFields,
): { work: ResolutionWork } | { error: string } {
  const description = fields.description.trim();
  if (!description) return { error: 'Describe the service done.' };
  if (description.length > 4000) return { error: 'The description is at most 4000 characters.' };
  const work: ResolutionWork = { description };
  const hours = fields.laborHours.trim();
  if (hours) {
    if (!/^\d{1,4}(\.\d{1,2})?$/.test(hours))
      return { error: 'Labour hours: a number from 0 to 9999.99, at most two decimals.' };
    work.laborHours = Number(hours);
  }
  const serviceType = fields.serviceType.trim();
  if (serviceType) work.serviceType = serviceType;
  return { work };
}

/** What a silence made from an alert holds: the alert alone, or its machine or wider. */
export type SilenceScopeChoice = 'alert' | 'machine-metric' | 'machine' | 'type' | 'site';

/** The silence form's fields, as chosen. */
export interface SilenceFields {
  scope: string;
  /** Hours, or 'resolved': until the alert is resolved (the alert scope only). */
  duration: string;
  reason: string;
}

/** The body of `POST /api/silences` (lib/api/silences.ts `silenceInputSchema`). */
export interface SilenceRequest {
  alertId?: string;
  equipmentId?: number;
  equipmentType?: string;
  location?: string;
  metric?: Exclude<Metric, 'offline'>;
  endsAt?: string;
  reason: string;
}

const silenceScopes: readonly string[] = allOf<SilenceScopeChoice>()([
  'alert',
  'machine-metric',
  'machine',
  'type',
  'site',
]);

/** The longest a silence may last, in hours (the API allows a year; the form offers a week). */
const longestSilenceHours = 24 * 7;

/**
 * The silence form as a `POST /api/silences` body for `alert` on `machine` (its type and
 * site), or what is wrong with it. `now` is when the silence starts.
 */
export function silenceRequest(
  alert: Pick<Alert, 'id' | 'equipmentId' | 'metric'>,
  machine: Pick<Equipment, 'type' | 'location'> | undefined,
  fields: SilenceFields,
  now: Date,
): { request: SilenceRequest } | { error: string } {
  const reason = fields.reason.trim();
  if (!reason) return { error: 'Give a reason for the silence.' };
  if (reason.length > 500) return { error: 'The reason is at most 500 characters.' };
  if (!silenceScopes.includes(fields.scope)) return { error: 'Choose what to silence.' };
  const scope = fields.scope as SilenceScopeChoice;
  let endsAt: string | undefined;
  if (fields.duration === 'resolved') {
    if (scope !== 'alert')
      return { error: 'Only a silence of this alert alone can last until it is resolved.' };
  } else {
    const hours = Number(fields.duration);
    if (!Number.isFinite(hours) || hours <= 0 || hours > longestSilenceHours)
      return { error: 'Choose how long the silence lasts.' };
    endsAt = new Date(now.getTime() + hours * 3_600_000).toISOString();
  }
  const base = endsAt === undefined ? { reason } : { reason, endsAt };
  if (scope === 'alert') return { request: { ...base, alertId: alert.id } };
  if (scope === 'type' || scope === 'site') {
    if (!machine) return { error: 'The machine’s type and site are not loaded yet.' };
    if (scope === 'site' && !machine.location) return { error: 'The machine has no site.' };
    return {
      request:
        scope === 'type'
          ? { ...base, equipmentType: machine.type }
          : { ...base, location: machine.location ?? '' },
    };
  }
  const equipmentId = Number(alert.equipmentId);
  if (!Number.isInteger(equipmentId) || equipmentId <= 0)
    return { error: 'This machine is not in the equipment registry.' };
  if (scope === 'machine') return { request: { ...base, equipmentId } };
  if (alert.metric === 'offline')
    return { error: 'An offline alert has no metric: silence the alert or the machine.' };
  return { request: { ...base, equipmentId, metric: alert.metric } };
}
