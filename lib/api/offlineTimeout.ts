/**
 * A machine's own offline timeout over HTTP (`/api/equipment/{id}/offline-timeout`): admins
 * set or clear it; every role reads it, technicians only for equipment assigned to them (404
 * otherwise, as for thresholds). Each change is an `OfflineTimeoutChanged` event in the
 * equipment's history, in the same transaction. The offline detector reads the column itself
 * (lib/telemetry/offlineEquipment.ts).
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { requireRole, type Principal } from '../auth.js';
import { accessScope, canSee } from '../fanout/audience.js';
import { inTransaction, type Queryable } from '../mysql/table.js';
import {
  offlineTimeoutMinutesSchema,
  offlineTimeoutOf,
  type OfflineTimeouts,
} from '../telemetry/offline.js';
import { equipmentTable } from './equipment.js';
import { actorOf, appendEvents } from './history.js';

/** The body of `PUT /api/equipment/{id}/offline-timeout`. */
export const offlineTimeoutInputSchema = z
  .strictObject({
    offlineTimeoutMinutes: offlineTimeoutMinutesSchema.nullable().meta({
      description:
        'Minutes without readings before the machine is offline (1 to 10080); null: its ' +
        'type’s timeout (OFFLINE_TIMEOUT_MINUTES) or the default applies.',
    }),
  })
  .meta({ id: 'OfflineTimeoutInput' });
export type OfflineTimeoutInput = z.infer<typeof offlineTimeoutInputSchema>;

export const offlineTimeoutSchema = z
  .object({
    equipmentId: z.number().int(),
    offlineTimeoutMinutes: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'The machine’s own timeout, or null.' }),
    effectiveMinutes: z.number().int().meta({
      description: 'The timeout that applies: its own, else its type’s, else the default.',
    }),
  })
  .meta({ id: 'OfflineTimeout' });
export type OfflineTimeout = z.infer<typeof offlineTimeoutSchema>;

async function readTimeout(
  db: Queryable,
  equipmentId: number,
  timeouts: OfflineTimeouts,
  forUpdate = false,
): Promise<OfflineTimeout> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT type, offline_timeout_minutes FROM equipment WHERE id = ?${forUpdate ? ' FOR UPDATE' : ''}`,
    [equipmentId],
  );
  const row = rows[0];
  if (!row) throw equipmentTable.notFound(equipmentId);
  const own =
    row['offline_timeout_minutes'] === null ? null : Number(row['offline_timeout_minutes']);
  return {
    equipmentId,
    offlineTimeoutMinutes: own,
    effectiveMinutes: offlineTimeoutOf(timeouts, {
      type: String(row['type']),
      offlineTimeoutMinutes: own,
    }),
  };
}

/** The timeout of equipment the caller may see; 404 for unknown or unseen equipment. */
export async function getOfflineTimeout(
  pool: Pool,
  principal: Principal,
  equipmentId: number,
  timeouts: OfflineTimeouts,
): Promise<OfflineTimeout> {
  // Unseen equipment is answered as unknown equipment, so ids reveal nothing.
  if (!canSee(await accessScope(pool, principal), String(equipmentId)))
    throw equipmentTable.notFound(equipmentId);
  return readTimeout(pool, equipmentId, timeouts);
}

/** Sets or clears a machine's own timeout (Admin); the detector applies it at its next run. */
export async function putOfflineTimeout(
  pool: Pool,
  principal: Principal,
  equipmentId: number,
  input: OfflineTimeoutInput,
  timeouts: OfflineTimeouts,
): Promise<OfflineTimeout> {
  requireRole(principal, 'Admin');
  return inTransaction(pool, async (connection) => {
    const before = await readTimeout(connection, equipmentId, timeouts, true);
    if (before.offlineTimeoutMinutes === input.offlineTimeoutMinutes) return before;
    await connection.query('UPDATE equipment SET offline_timeout_minutes = ? WHERE id = ?', [
      input.offlineTimeoutMinutes,
      equipmentId,
    ]);
    await appendEvents(connection, [
      {
        aggregate: 'equipment',
        aggregateId: equipmentId,
        type: 'OfflineTimeoutChanged',
        actor: actorOf(principal),
        before: { offlineTimeoutMinutes: before.offlineTimeoutMinutes },
        after: { offlineTimeoutMinutes: input.offlineTimeoutMinutes },
      },
    ]);
    return readTimeout(connection, equipmentId, timeouts);
  });
}
