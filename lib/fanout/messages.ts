/**
 * What clients receive, as JSON through Web PubSub. Every alert message carries the alert's
 * id and version, so a client that gets the same version twice (by group and by user id, or
 * after a retried delivery) drops the repeat.
 */
import {
  publicAlert,
  type Alert,
  type AlertEventType,
  type PublicAlert,
} from '../telemetry/alerts.js';
import type { Reading } from '../telemetry/reading.js';
import type { StatsSummary } from '../telemetry/stats.js';

export interface AlertMessage {
  type: AlertEventType;
  alert: PublicAlert;
}

/** A technician near the machine, suggested to admins with a critical alert. */
export interface NearbyTechnicianSummary {
  technicianId: number;
  name: string;
  specialization: string;
  distanceKm: number;
}

/** What admins get: a critical alert also names the nearest available technicians. */
export interface AdminAlertMessage extends AlertMessage {
  nearestTechnicians?: NearbyTechnicianSummary[];
}

export function alertMessage(alert: Alert, type: AlertEventType): AlertMessage {
  return { type, alert: publicAlert(alert) };
}

/** A machine's latest reading and its current (open) window so far. */
export interface EquipmentStatusMessage {
  type: 'equipment.status';
  equipmentId: string;
  /** Time of the latest reading. */
  at: string;
  reading: Partial<Pick<Reading, 'temperature' | 'vibration' | 'pressure'>>;
  window: { start: string; end: string; summary: StatsSummary };
}
