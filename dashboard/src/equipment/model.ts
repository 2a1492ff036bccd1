/**
 * What the equipment page reads, as it uses it: the shapes of the OpenAPI document
 * (lib/api/telemetrySchemas.ts, schemas.ts, historySchemas.ts, locations.ts) narrowed to the
 * fields shown, with guards so a surprising answer is skipped rather than drawn wrong.
 */
import type { MetricName } from '../../../lib/telemetry/reading.js';
import { isRecord } from './api.js';

export const chartMetrics: readonly MetricName[] = ['temperature', 'vibration', 'pressure'];

export const metricUnits: Record<MetricName, string> = {
  temperature: '°C',
  vibration: 'mm/s',
  pressure: 'psi',
};

export interface MetricSummary {
  count: number;
  min: number;
  max: number;
  mean: number;
}

export interface WindowSummary {
  readings: number;
  metrics: Partial<Record<MetricName, MetricSummary>>;
}

/** One closed five-minute window of the history. */
export interface ClosedWindow {
  windowStart: string;
  windowEnd: string;
  summary: WindowSummary;
}

export interface Telemetry {
  latest: {
    timestamp: string;
    temperature?: number;
    vibration?: number;
    pressure?: number;
  } | null;
  currentWindow: { start: string; end: string; summary: WindowSummary } | null;
  history: ClosedWindow[];
}

function isMetricSummary(value: unknown): value is MetricSummary {
  return (
    isRecord(value) &&
    ['count', 'min', 'max', 'mean'].every((key) => typeof value[key] === 'number')
  );
}

function windowSummary(value: unknown): WindowSummary | undefined {
  if (!isRecord(value) || typeof value['readings'] !== 'number' || !isRecord(value['metrics']))
    return undefined;
  const metrics: Partial<Record<MetricName, MetricSummary>> = {};
  for (const metric of chartMetrics) {
    const summary = value['metrics'][metric];
    if (isMetricSummary(summary)) metrics[metric] = summary;
  }
  return { readings: value['readings'], metrics };
}

const numberOrUndefined = (value: unknown) => (typeof value === 'number' ? value : undefined);

/** `GET /api/equipment/{id}/telemetry`, or undefined when it is not that shape. */
export function parseTelemetry(body: unknown): Telemetry | undefined {
  if (!isRecord(body) || !Array.isArray(body['history'])) return undefined;
  const latestBody = body['latest'];
  const latest =
    isRecord(latestBody) && typeof latestBody['timestamp'] === 'string'
      ? {
          timestamp: latestBody['timestamp'],
          ...definedMetrics(latestBody),
        }
      : null;
  const currentBody = body['currentWindow'];
  const currentSummary = isRecord(currentBody) ? windowSummary(currentBody['summary']) : undefined;
  const currentWindow =
    isRecord(currentBody) &&
    typeof currentBody['start'] === 'string' &&
    typeof currentBody['end'] === 'string' &&
    currentSummary
      ? { start: currentBody['start'], end: currentBody['end'], summary: currentSummary }
      : null;
  const history: ClosedWindow[] = [];
  for (const item of body['history']) {
    if (!isRecord(item)) continue;
    const summary = windowSummary(item['summary']);
    const { windowStart, windowEnd } = item;
    if (summary && typeof windowStart === 'string' && typeof windowEnd === 'string')
      history.push({ windowStart, windowEnd, summary });
  }
  history.sort((a, b) => Date.parse(a.windowStart) - Date.parse(b.windowStart));
  return { latest, currentWindow, history };
}

function definedMetrics(body: Record<string, unknown>): Partial<Record<MetricName, number>> {
  const metrics: Partial<Record<MetricName, number>> = {};
  for (const metric of chartMetrics) {
    const value = numberOrUndefined(body[metric]);
    if (value !== undefined) metrics[metric] = value;
  }
  return metrics;
}

export interface EquipmentIdentity {
  id: number;
  name: string;
  type: string;
  serialNumber: string | null;
  manufacturer: string | null;
  model: string | null;
  location: string | null;
  status: string;
  commissionedOn: string | null;
}

export function isEquipmentIdentity(value: unknown): value is EquipmentIdentity {
  return (
    isRecord(value) &&
    typeof value['id'] === 'number' &&
    typeof value['name'] === 'string' &&
    typeof value['type'] === 'string' &&
    typeof value['status'] === 'string'
  );
}

export interface Assignment {
  technician: { id: number; name: string; specialization: string; email: string };
  assignedAt: string;
}

export function isAssignment(value: unknown): value is Assignment {
  return (
    isRecord(value) &&
    typeof value['assignedAt'] === 'string' &&
    isRecord(value['technician']) &&
    typeof value['technician']['name'] === 'string'
  );
}

export interface EquipmentAlert {
  id: string;
  metric: string;
  status: string;
  severity: 'medium' | 'high' | 'critical';
  firstWindowStart: string;
  raisedAt: string;
  breach: { mean: number; threshold: number; comparison: string; unit: string };
}

export function isEquipmentAlert(value: unknown): value is EquipmentAlert {
  return (
    isRecord(value) &&
    typeof value['id'] === 'string' &&
    typeof value['metric'] === 'string' &&
    typeof value['status'] === 'string' &&
    ['medium', 'high', 'critical'].includes(String(value['severity'])) &&
    typeof value['firstWindowStart'] === 'string' &&
    typeof value['raisedAt'] === 'string' &&
    isRecord(value['breach']) &&
    typeof value['breach']['mean'] === 'number' &&
    typeof value['breach']['threshold'] === 'number'
  );
}

export interface ServiceRecord {
  id: number;
  serviceType: string;
  status: string;
  serviceDate: string;
  description: string;
  alertId: string | null;
}

export function isServiceRecord(value: unknown): value is ServiceRecord {
  return (
    isRecord(value) &&
    typeof value['id'] === 'number' &&
    typeof value['serviceType'] === 'string' &&
    typeof value['serviceDate'] === 'string' &&
    typeof value['description'] === 'string'
  );
}

export interface EquipmentEvent {
  id: number;
  type: string;
  actor: string;
  occurredAt: string;
  after: Record<string, unknown> | null;
}

export function isEquipmentEvent(value: unknown): value is EquipmentEvent {
  return (
    isRecord(value) &&
    typeof value['id'] === 'number' &&
    typeof value['type'] === 'string' &&
    typeof value['actor'] === 'string' &&
    typeof value['occurredAt'] === 'string'
  );
}

export interface NearbyTechnician {
  technicianId: number;
  name: string;
  specialization: string;
  distanceKm: number;
}

export function nearbyTechnicians(body: unknown): NearbyTechnician[] {
  if (!isRecord(body) || !Array.isArray(body['technicians'])) return [];
  return body['technicians'].filter(
    (t): t is NearbyTechnician =>
      isRecord(t) && typeof t['name'] === 'string' && typeof t['distanceKm'] === 'number',
  );
}

export function rolesOf(body: unknown): string[] {
  if (!isRecord(body) || !Array.isArray(body['roles'])) return [];
  return body['roles'].filter((role): role is string => typeof role === 'string');
}
