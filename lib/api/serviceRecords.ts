/**
 * Service records: the work done on equipment. Admins manage all of them; a technician may
 * create and replace only records that name themselves, on equipment assigned to them, and
 * only while their row is active.
 */
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { requireRole, type Principal } from '../auth.js';
import { HttpError } from '../errors.js';
import {
  inTransaction,
  isoString,
  VersionedTable,
  filterConditions,
  type Queryable,
} from '../mysql/table.js';
import type { Page, PageRequest } from '../paging.js';
import type { VersionCondition } from '../preconditions.js';
import { actorOf, appendEvents, recordServiceRecord, serviceRecorded } from './history.js';
import type { AlertResolutionWork, ServiceRecord, ServiceRecordInput } from './schemas.js';
import { namesMysqlRow } from '../telemetry/reading.js';
import { technicianForSubject } from './technicians.js';

export const serviceRecordTable = new VersionedTable<ServiceRecord>({
  table: 'service_records',
  label: 'Service record',
  columns: [
    'id',
    'equipment_id',
    'technician_id',
    'service_type',
    'status',
    'service_date',
    'description',
    'labor_hours',
    'cost',
    'alert_id',
    'version',
    'created_at',
    'updated_at',
  ],
  fromRow: (row: RowDataPacket): ServiceRecord => ({
    id: Number(row['id']),
    equipmentId: Number(row['equipment_id']),
    technicianId: row['technician_id'] === null ? null : Number(row['technician_id']),
    serviceType: String(row['service_type']),
    status: String(row['status']),
    // A DATE column: the pool reads it as `YYYY-MM-DD` text (dateStrings).
    serviceDate: String(row['service_date']),
    description: String(row['description']),
    laborHours: row['labor_hours'] === null ? null : Number(row['labor_hours']),
    cost: row['cost'] === null ? null : Number(row['cost']),
    alertId: (row['alert_id'] as string | null) ?? null,
    version: Number(row['version']),
    createdAt: isoString(row['created_at']),
    updatedAt: isoString(row['updated_at']),
  }),
  // Newest first: the order technicians read a machine's history in.
  order: [
    { column: 'service_date', direction: 'DESC', kind: 'date' },
    { column: 'id', direction: 'DESC', kind: 'id' },
  ],
  conflicts: {
    fk_service_records_equipment: {
      detail: 'equipmentId does not name existing equipment.',
      pointer: '#/equipmentId',
    },
    fk_service_records_technician: {
      detail: 'technicianId does not name an existing technician.',
      pointer: '#/technicianId',
    },
  },
});

function columns(input: ServiceRecordInput): Record<string, unknown> {
  return {
    equipment_id: input.equipmentId,
    technician_id: input.technicianId ?? null,
    service_type: input.serviceType,
    status: input.status,
    service_date: input.serviceDate,
    description: input.description,
    labor_hours: input.laborHours ?? null,
    cost: input.cost ?? null,
  };
}

/**
 * For a technician (not an admin), the id of their own active technician row; throws 403
 * when the token's subject has none.
 */
async function ownTechnicianId(pool: Pool, principal: Principal): Promise<number | undefined> {
  if (principal.roles.has('Admin')) return undefined;
  requireRole(principal, 'Technician');
  const technician = await technicianForSubject(pool, principal.subject);
  if (!technician)
    throw new HttpError('forbidden', 'Your sign-in is not linked to a technician record.');
  if (!technician.isActive)
    throw new HttpError('forbidden', 'Your technician record is deactivated.');
  return technician.id;
}

function requireOwn(
  ownId: number | undefined,
  technicianId: number | null | undefined,
  what: string,
): void {
  if (ownId !== undefined && technicianId !== ownId) {
    throw new HttpError(
      'forbidden',
      `Technicians may only ${what} service records that name themselves as technicianId.`,
    );
  }
}

/**
 * For a technician, throws 403 unless `equipmentId` is assigned to their row: they record
 * work only on the machines they look after (the same machines whose alerts they see).
 * Equipment that does not exist is not theirs either, so it is a 403 too, not a 409.
 */
async function requireAssigned(
  db: Queryable,
  ownId: number | undefined,
  equipmentId: number,
): Promise<void> {
  if (ownId === undefined) return;
  const [rows] = await db.query<RowDataPacket[]>(
    'SELECT 1 FROM equipment_technicians WHERE equipment_id = ? AND technician_id = ?',
    [equipmentId, ownId],
  );
  if (rows.length === 0) {
    throw new HttpError(
      'forbidden',
      `Equipment ${equipmentId} is not assigned to you; technicians may only record work on their assigned equipment.`,
    );
  }
}

export interface ServiceRecordFilter {
  equipmentId?: number | undefined;
  technicianId?: number | undefined;
  status?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

export function listServiceRecords(
  db: Queryable,
  filter: ServiceRecordFilter,
  page: PageRequest,
): Promise<Page<ServiceRecord>> {
  const conditions = filterConditions([
    ['equipment_id', '=', filter.equipmentId],
    ['technician_id', '=', filter.technicianId],
    ['status', '=', filter.status],
    ['service_date', '>=', filter.from],
    ['service_date', '<', filter.to],
  ]);
  return serviceRecordTable.list(db, conditions, page);
}

export function getServiceRecord(pool: Pool, id: number): Promise<ServiceRecord> {
  return serviceRecordTable.get(pool, id);
}

export async function createServiceRecord(
  pool: Pool,
  principal: Principal,
  input: ServiceRecordInput,
): Promise<ServiceRecord> {
  const ownId = await ownTechnicianId(pool, principal);
  requireOwn(ownId, input.technicianId, 'create');
  await requireAssigned(pool, ownId, input.equipmentId);
  return serviceRecordTable.insert(pool, columns(input), recordServiceRecord(principal));
}

export async function replaceServiceRecord(
  pool: Pool,
  principal: Principal,
  id: number,
  input: ServiceRecordInput,
  ifMatch: VersionCondition,
): Promise<ServiceRecord> {
  const ownId = await ownTechnicianId(pool, principal);
  requireOwn(ownId, input.technicianId, 'assign');
  return serviceRecordTable.replace(
    pool,
    id,
    columns(input),
    ifMatch,
    async (current) => {
      requireOwn(ownId, current.technicianId, 'replace');
      // Both ends of a move: the machine the record is on now, and the one it moves to.
      await requireAssigned(pool, ownId, current.equipmentId);
      await requireAssigned(pool, ownId, input.equipmentId);
    },
    recordServiceRecord(principal),
  );
}

export function deleteServiceRecord(
  pool: Pool,
  principal: Principal,
  id: number,
  ifMatch: VersionCondition,
): Promise<void> {
  requireRole(principal, 'Admin');
  return serviceRecordTable.remove(pool, id, ifMatch, recordServiceRecord(principal));
}

/**
 * The service record documenting the resolution of an alert, created once however often it
 * is asked for (a retried resolve finds the first one by the alert's unique id). Technicians
 * are recorded as the technician; an admin's record names none.
 */
export async function serviceRecordForAlert(
  pool: Pool,
  principal: Principal,
  alert: { id: string; equipmentId: string },
  work: AlertResolutionWork,
  now: Date = new Date(),
): Promise<ServiceRecord> {
  const noEquipment = new HttpError(
    'conflict',
    "The alert's equipment is not in the equipment registry, so no service record can document it.",
  );
  if (!namesMysqlRow(alert.equipmentId)) throw noEquipment;
  const ownId = await ownTechnicianId(pool, principal);
  // The caller checked the alert is theirs to see; for a technician that is this very rule.
  await requireAssigned(pool, ownId, Number(alert.equipmentId));
  try {
    return await inTransaction(pool, async (connection) => {
      let insertId: number;
      try {
        const [result] = await connection.query<ResultSetHeader>(
          `INSERT INTO service_records
             (equipment_id, technician_id, service_type, status, service_date, description, labor_hours, alert_id)
           VALUES (?, ?, ?, 'completed', ?, ?, ?, ?)`,
          [
            Number(alert.equipmentId),
            ownId ?? null,
            work.serviceType ?? 'repair',
            // The UTC day, as every serviceDate is stored.
            now.toISOString().slice(0, 10),
            work.description,
            work.laborHours ?? null,
            alert.id,
          ],
        );
        insertId = result.insertId;
      } catch (error) {
        // A repeat: the alert's record exists (a duplicate key undoes only this statement).
        // A locking read sees it even if a concurrent resolve committed it a moment ago.
        if ((error as { code?: unknown }).code !== 'ER_DUP_ENTRY') throw error;
        const [existing] = await connection.query<RowDataPacket[]>(
          'SELECT id FROM service_records WHERE alert_id = ? FOR UPDATE',
          [alert.id],
        );
        const existingId: unknown = existing[0]?.['id'];
        if (existingId === undefined) throw error;
        return serviceRecordTable.get(connection, Number(existingId));
      }
      const record = await serviceRecordTable.get(connection, insertId);
      await appendEvents(connection, [serviceRecorded(actorOf(principal), record)]);
      return record;
    });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ER_NO_REFERENCED_ROW_2') throw noEquipment;
    throw error;
  }
}
