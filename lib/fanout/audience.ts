/** The people behind the fan-out and the client tokens, from MySQL. */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Principal } from '../auth.js';
import { externalIdIs } from '../api/technicians.js';
import type { Alert } from '../telemetry/alerts.js';
import { namesMysqlRow } from '../telemetry/reading.js';
import { storedPreferences } from './contacts.js';
import { defaultPreferences, wantsAlert, type NotificationPreferences } from './preferences.js';
import type { AccessScope } from './routing.js';

/**
 * The user ids (token subjects) of the active technicians assigned to each equipment.
 * Equipment without any (or unknown to MySQL) map to an empty list.
 */
export async function assignedUserIds(
  pool: Pool,
  equipmentIds: readonly string[],
): Promise<Map<string, string[]>> {
  const result = new Map(equipmentIds.map((id) => [id, [] as string[]]));
  const numeric = [...new Set(equipmentIds.filter(namesMysqlRow))];
  if (numeric.length === 0) return result;
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT a.equipment_id, t.external_id
       FROM equipment_technicians a JOIN technicians t ON t.id = a.technician_id
      WHERE a.equipment_id IN (?) AND t.is_active AND t.external_id IS NOT NULL`,
    [numeric.map(Number)],
  );
  for (const row of rows) {
    result.get(String(row['equipment_id']))?.push(String(row['external_id']));
  }
  return result;
}

/**
 * The stored notification preferences of the active technicians signed in as `userIds`
 * (token subjects); a user without a row or without preferences is absent from the map.
 */
export async function preferencesOfUsers(
  pool: Pool,
  userIds: readonly string[],
): Promise<Map<string, NotificationPreferences>> {
  const result = new Map<string, NotificationPreferences>();
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return result;
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT t.external_id, p.preferences
       FROM technicians t JOIN technician_notification_preferences p ON p.technician_id = t.id
      WHERE t.external_id IN (?) AND t.is_active`,
    [ids],
  );
  for (const row of rows) {
    const preferences = storedPreferences(row['preferences']);
    // Matched exactly here: the column's collation may also match padded or case-folded ids.
    const userId = ids.find((id) => id === row['external_id']);
    if (userId !== undefined && preferences) result.set(userId, preferences);
  }
  return result;
}

/**
 * The deliverer's `pushAudience`: of an alert's people, those whose push preferences bring
 * its severity and who are not in quiet hours at `now()` (critical alerts pass quiet hours).
 * Without preferences of their own, the defaults: push for every severity.
 */
export function pushAudienceByPreferences(
  pool: () => Pool,
  now: () => number = Date.now,
): (alert: Alert, userIds: readonly string[]) => Promise<string[]> {
  // Push defaults do not depend on the SMS severities.
  const defaults = defaultPreferences([]);
  return async (alert, userIds) => {
    const chosen = await preferencesOfUsers(pool(), userIds);
    const at = new Date(now());
    return userIds.filter((userId) =>
      wantsAlert(chosen.get(userId) ?? defaults, 'push', alert.severity, at),
    );
  };
}

/**
 * What a signed-in user may see. Admins see everything; a technician sees the equipment
 * assigned to their technician row (linked by token subject), and nothing when they have no
 * active row.
 */
export async function accessScope(pool: Pool, principal: Principal): Promise<AccessScope> {
  if (principal.roles.has('Admin')) return { kind: 'all' };
  const [found] = await pool.query<RowDataPacket[]>(
    `SELECT t.id, t.external_id, a.equipment_id
       FROM technicians t LEFT JOIN equipment_technicians a ON a.technician_id = t.id
      WHERE ${externalIdIs('t.external_id')} AND t.is_active
      ORDER BY a.equipment_id`,
    [principal.subject, principal.subject],
  );
  // Checked again here, so no future change to the query can widen who is who.
  const rows = found.filter((row) => row['external_id'] === principal.subject);
  const first = rows[0];
  return {
    kind: 'assigned',
    technicianId: first ? Number(first['id']) : null,
    equipmentIds: rows
      .filter((row) => row['equipment_id'] !== null)
      .map((row) => String(row['equipment_id'])),
  };
}

/** Whether the scope includes one equipment. */
export function canSee(scope: AccessScope, equipmentId: string): boolean {
  return scope.kind === 'all' || scope.equipmentIds.includes(equipmentId);
}
