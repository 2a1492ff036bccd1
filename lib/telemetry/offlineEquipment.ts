/**
 * What the offline detector reads and changes in MySQL: each machine's status, type and own
 * offline timeout, and its status set to `Offline` and back, recorded in its change history
 * as the pipeline's change.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { equipmentTable } from '../api/equipment.js';
import { appendEvents, equipmentEvents } from '../api/history.js';
import { inTransaction } from '../mysql/table.js';
import { pipelineActor } from './alertTimeline.js';

/** A machine as the offline detector sees it. */
export interface OfflineEquipment {
  status: string;
  type: string;
  /** Its own timeout (minutes), or null: its type's or the default applies. */
  offlineTimeoutMinutes: number | null;
}

/** The machines among `ids` that exist, by id (as text, like equipment ids in telemetry). */
export function offlineEquipment(
  pool: Pool,
): (ids: readonly string[]) => Promise<Map<string, OfflineEquipment>> {
  return async (ids) => {
    const numeric = ids.filter((id) => /^\d{1,18}$/.test(id));
    if (!numeric.length) return new Map();
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT id, status, type, offline_timeout_minutes FROM equipment WHERE id IN (?)',
      [numeric],
    );
    return new Map(
      rows.map((row) => [
        String(row['id']),
        {
          status: String(row['status']),
          type: String(row['type']),
          offlineTimeoutMinutes:
            row['offline_timeout_minutes'] === null ? null : Number(row['offline_timeout_minutes']),
        },
      ]),
    );
  };
}

/**
 * Sets a machine's status from `from` to `to`, only if it is still `from` (a person may have
 * changed it meanwhile) and, when `unchangedSince` (ISO) is given, nobody changed its status
 * since then; with a `StatusChanged` event by the pipeline in the same transaction. Returns
 * whether it changed: of two detectors doing the same, exactly one does. A change is
 * `written` (the shared caches' record of it) after it commits and before this answers, as
 * the API's writes are, so no read after it returns the old status.
 */
export function changeEquipmentStatus(
  pool: Pool,
  written: (id: number, version: number) => Promise<void>,
): (equipmentId: string, from: string, to: string, unchangedSince?: string) => Promise<boolean> {
  return async (equipmentId, from, to, unchangedSince) => {
    const id = Number(equipmentId);
    const version = await inTransaction(pool, async (connection) => {
      const before = await equipmentTable.find(connection, id, true);
      if (!before || before.status !== from) return undefined;
      if (unchangedSince !== undefined) {
        const [changed] = await connection.query<RowDataPacket[]>(
          `SELECT 1 FROM change_events WHERE aggregate = 'equipment' AND aggregate_id = ?
             AND event_type = 'StatusChanged' AND occurred_at >= ? LIMIT 1`,
          [id, new Date(unchangedSince)],
        );
        if (changed.length) return undefined;
      }
      await connection.query(
        'UPDATE equipment SET status = ?, version = version + 1 WHERE id = ?',
        [to, id],
      );
      const after = await equipmentTable.find(connection, id);
      if (!after) return undefined;
      await appendEvents(connection, equipmentEvents(pipelineActor, { before, after }));
      return after.version;
    });
    if (version === undefined) return false;
    await written(id, version);
    return true;
  };
}
