/** Equipment: the machines in the field. Admins manage them; everyone signed in reads them. */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { requireRole, type Principal } from '../auth.js';
import { isoString, VersionedTable, filterConditions, type Queryable } from '../mysql/table.js';
import type { Page, PageRequest } from '../paging.js';
import type { VersionCondition } from '../preconditions.js';
import { recordEquipment } from './history.js';
import type { Equipment, EquipmentInput } from './schemas.js';

export const equipmentTable = new VersionedTable<Equipment>({
  table: 'equipment',
  label: 'Equipment',
  columns: [
    'id',
    'serial_number',
    'name',
    'type',
    'manufacturer',
    'model',
    'location',
    'latitude',
    'longitude',
    'status',
    'commissioned_on',
    'version',
    'created_at',
    'updated_at',
  ],
  fromRow: (row: RowDataPacket): Equipment => ({
    id: Number(row['id']),
    serialNumber: (row['serial_number'] as string | null) ?? null,
    name: String(row['name']),
    type: String(row['type']),
    manufacturer: (row['manufacturer'] as string | null) ?? null,
    model: (row['model'] as string | null) ?? null,
    location: (row['location'] as string | null) ?? null,
    // DECIMAL columns arrive as text.
    latitude: row['latitude'] === null ? null : Number(row['latitude']),
    longitude: row['longitude'] === null ? null : Number(row['longitude']),
    status: row['status'] as Equipment['status'],
    commissionedOn: (row['commissioned_on'] as string | null) ?? null,
    version: Number(row['version']),
    createdAt: isoString(row['created_at']),
    updatedAt: isoString(row['updated_at']),
  }),
  order: [{ column: 'id', direction: 'ASC', kind: 'id' }],
  conflicts: {
    uq_equipment_serial: {
      detail: 'Another piece of equipment has this serial number.',
      pointer: '#/serialNumber',
    },
    fk_service_records_equipment: {
      detail:
        'This equipment has service records; delete them first or set its status to "Retired".',
    },
  },
});

function columns(input: EquipmentInput): Record<string, unknown> {
  return {
    serial_number: input.serialNumber ?? null,
    name: input.name,
    type: input.type,
    manufacturer: input.manufacturer ?? null,
    model: input.model ?? null,
    location: input.location ?? null,
    latitude: input.latitude ?? null,
    longitude: input.longitude ?? null,
    status: input.status,
    commissioned_on: input.commissionedOn ?? null,
  };
}

export interface EquipmentFilter {
  status?: string | undefined;
  type?: string | undefined;
  location?: string | undefined;
}

export function listEquipment(
  db: Queryable,
  filter: EquipmentFilter,
  page: PageRequest,
): Promise<Page<Equipment>> {
  const conditions = filterConditions([
    ['status', '=', filter.status],
    ['type', '=', filter.type],
    ['location', '=', filter.location],
  ]);
  return equipmentTable.list(db, conditions, page);
}

export function getEquipment(pool: Pool, id: number): Promise<Equipment> {
  return equipmentTable.get(pool, id);
}

export function createEquipment(
  pool: Pool,
  principal: Principal,
  input: EquipmentInput,
): Promise<Equipment> {
  requireRole(principal, 'Admin');
  return equipmentTable.insert(pool, columns(input), recordEquipment(principal));
}

export function replaceEquipment(
  pool: Pool,
  principal: Principal,
  id: number,
  input: EquipmentInput,
  ifMatch: VersionCondition,
): Promise<Equipment> {
  requireRole(principal, 'Admin');
  return equipmentTable.replace(
    pool,
    id,
    columns(input),
    ifMatch,
    undefined,
    recordEquipment(principal),
  );
}

export function deleteEquipment(
  pool: Pool,
  principal: Principal,
  id: number,
  ifMatch: VersionCondition,
): Promise<void> {
  requireRole(principal, 'Admin');
  return equipmentTable.remove(pool, id, ifMatch, recordEquipment(principal));
}
