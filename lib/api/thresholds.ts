/**
 * Per-equipment threshold overrides over HTTP: admins set, replace and remove them; every
 * role reads them, technicians only for equipment assigned to them (404 otherwise, as for
 * alerts). Each change is a `ThresholdsChanged` event in the equipment's history, written in
 * the same transaction. The pipeline reads the table itself (lib/telemetry/equipmentLookups.ts).
 */
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { requireRole, type Principal } from '../auth.js';
import { NotFoundError, StaleVersionError } from '../errors.js';
import { accessScope, canSee } from '../fanout/audience.js';
import { inTransaction, isoString, type Queryable } from '../mysql/table.js';
import { requireVersion, type VersionCondition } from '../preconditions.js';
import {
  equipmentThresholdMapSchema,
  thresholdMapFromColumn,
  type EquipmentThresholdMap,
} from '../telemetry/equipmentThresholds.js';
import { equipmentTable } from './equipment.js';
import { actorOf, appendEvents } from './history.js';

/** The body of `PUT /api/equipment/{id}/thresholds`. */
export const equipmentThresholdsInputSchema = z
  .strictObject({ thresholds: equipmentThresholdMapSchema })
  .meta({ id: 'EquipmentThresholdsInput' });
export type EquipmentThresholdsInput = z.infer<typeof equipmentThresholdsInputSchema>;

/** One machine's overrides as the API answers with them (the shape the OpenAPI document shows). */
export const equipmentThresholdsSchema = z
  .object({
    equipmentId: z.number().int(),
    thresholds: equipmentThresholdMapSchema,
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'EquipmentThresholds' });
export interface EquipmentThresholds {
  equipmentId: number;
  thresholds: EquipmentThresholdMap;
  version: number;
  createdAt: string;
  updatedAt: string;
}

async function findThresholds(
  db: Queryable,
  equipmentId: number,
  forUpdate = false,
): Promise<EquipmentThresholds | undefined> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT equipment_id, thresholds, version, created_at, updated_at
       FROM equipment_thresholds WHERE equipment_id = ?${forUpdate ? ' FOR UPDATE' : ''}`,
    [equipmentId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    equipmentId,
    thresholds: thresholdMapFromColumn(row['thresholds']),
    version: Number(row['version']),
    createdAt: isoString(row['created_at']),
    updatedAt: isoString(row['updated_at']),
  };
}

function noOverrides(equipmentId: number): NotFoundError {
  return new NotFoundError(`Equipment ${equipmentId} has no threshold overrides.`);
}

/** The overrides of equipment the caller may see; 404 for unknown or unseen equipment. */
export async function getThresholds(
  pool: Pool,
  principal: Principal,
  equipmentId: number,
): Promise<EquipmentThresholds> {
  // Unseen equipment is answered as unknown equipment, so ids reveal nothing.
  if (!canSee(await accessScope(pool, principal), String(equipmentId)))
    throw equipmentTable.notFound(equipmentId);
  await equipmentTable.get(pool, equipmentId);
  const found = await findThresholds(pool, equipmentId);
  if (!found) throw noOverrides(equipmentId);
  return found;
}

/** Locks the equipment row (404 when missing) and its overrides, in a transaction. */
async function lockedThresholds(
  connection: PoolConnection,
  equipmentId: number,
): Promise<EquipmentThresholds | undefined> {
  if (!(await equipmentTable.find(connection, equipmentId, true)))
    throw equipmentTable.notFound(equipmentId);
  return findThresholds(connection, equipmentId, true);
}

/** Creates or replaces a machine's overrides (Admin). `created` says which. */
export async function putThresholds(
  pool: Pool,
  principal: Principal,
  equipmentId: number,
  input: EquipmentThresholdsInput,
  ifMatch: VersionCondition,
): Promise<{ thresholds: EquipmentThresholds; created: boolean }> {
  requireRole(principal, 'Admin');
  return inTransaction(pool, async (connection) => {
    const before = await lockedThresholds(connection, equipmentId);
    if (before) requireVersion(ifMatch, before.version);
    // If-Match names a representation that exists; there is none yet (RFC 9110 §13.1.1).
    else if (ifMatch !== undefined)
      throw new StaleVersionError(`Equipment ${equipmentId} has no threshold overrides yet.`);
    const json = JSON.stringify(input.thresholds);
    await connection.query(
      before
        ? `UPDATE equipment_thresholds SET thresholds = ?, version = version + 1,
             updated_at = CURRENT_TIMESTAMP(3) WHERE equipment_id = ?`
        : 'INSERT INTO equipment_thresholds (thresholds, equipment_id) VALUES (?, ?)',
      [json, equipmentId],
    );
    const after = await findThresholds(connection, equipmentId);
    if (!after) throw new Error(`thresholds of equipment ${equipmentId} missing after write`);
    await appendEvents(connection, [
      {
        aggregate: 'equipment',
        aggregateId: equipmentId,
        type: 'ThresholdsChanged',
        actor: actorOf(principal),
        occurredAt: after.updatedAt,
        before: before ? { thresholds: before.thresholds } : null,
        after: { thresholds: after.thresholds },
      },
    ]);
    return { thresholds: after, created: !before };
  });
}

/** Removes a machine's overrides (Admin): its type's rules apply again. */
export async function deleteThresholds(
  pool: Pool,
  principal: Principal,
  equipmentId: number,
  ifMatch: VersionCondition,
): Promise<void> {
  requireRole(principal, 'Admin');
  await inTransaction(pool, async (connection) => {
    const before = await lockedThresholds(connection, equipmentId);
    if (!before) throw noOverrides(equipmentId);
    requireVersion(ifMatch, before.version);
    await connection.query('DELETE FROM equipment_thresholds WHERE equipment_id = ?', [
      equipmentId,
    ]);
    await appendEvents(connection, [
      {
        aggregate: 'equipment',
        aggregateId: equipmentId,
        type: 'ThresholdsChanged',
        actor: actorOf(principal),
        before: { thresholds: before.thresholds },
        after: null,
      },
    ]);
  });
}
