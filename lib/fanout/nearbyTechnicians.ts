/**
 * The nearest available technicians to a machine with a critical alert, for the alert
 * message admins get (groups `alerts` and `admins`): active technicians with a live position
 * (lib/api/locations.ts), nearest first, with distance and specialization. Positions
 * themselves are left out (admins can ask nearest-technicians for them) and nothing about
 * them is logged. A lookup that fails (Redis or MySQL down, the machine deleted) leaves the
 * message as it was: the alert matters more than the suggestion.
 */
import type { Pool } from 'mysql2/promise';
import { nearestActiveTechnicians } from '../api/locations.js';
import { equipmentTable } from '../api/equipment.js';
import type { TechnicianLocations } from '../redis/locations.js';
import type { Alert } from '../telemetry/alerts.js';
import type { NearbyTechnicianSummary } from './messages.js';
import { adminsGroup, alertsGroup } from './routing.js';

/** The technicians to suggest for `alert`; undefined when there is nothing to suggest. */
export type NearestForAlert = (alert: Alert) => Promise<NearbyTechnicianSummary[] | undefined>;

/** Delivery targets only admins receive: where the suggestion may go. */
export function isAdminsOnlyTarget(target: string): boolean {
  return target === `group:${alertsGroup}` || target === `group:${adminsGroup}`;
}

export function nearestTechniciansForAlerts(
  pool: () => Pool,
  locations: () => TechnicianLocations,
  log: (message: string) => void,
  limit = 3,
): NearestForAlert {
  return async (alert) => {
    if (alert.severity !== 'critical') return undefined;
    try {
      const equipment = await equipmentTable.get(pool(), Number(alert.equipmentId));
      if (equipment.latitude === null || equipment.longitude === null) return undefined;
      const nearby = await nearestActiveTechnicians(
        pool(),
        locations(),
        { latitude: equipment.latitude, longitude: equipment.longitude },
        limit,
      );
      return nearby.map(({ technicianId, name, specialization, distanceKm }) => ({
        technicianId,
        name,
        specialization,
        distanceKm,
      }));
    } catch (error) {
      // The error's name only: never a position, and no message that could carry one.
      log(`Alert ${alert.id}: nearest technicians not added (${(error as Error).name})`);
      return undefined;
    }
  };
}
