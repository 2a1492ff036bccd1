/**
 * Technicians: the people who service equipment. `externalId` links a row to the subject of
 * that person's tokens. Rows that history refers to are deactivated, not deleted.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { requireRole, type Principal } from '../auth.js';
import { isoString, VersionedTable, filterConditions, type Queryable } from '../mysql/table.js';
import type { Page, PageRequest } from '../paging.js';
import type { VersionCondition } from '../preconditions.js';
import { recordTechnician } from './history.js';
import type { Technician, TechnicianInput } from './schemas.js';

export const technicianColumns = [
  'id',
  'external_id',
  'name',
  'email',
  'phone',
  'specialization',
  'is_active',
  'version',
  'created_at',
  'updated_at',
] as const;

export function technicianFromRow(row: RowDataPacket): Technician {
  return {
    id: Number(row['id']),
    externalId: (row['external_id'] as string | null) ?? null,
    name: String(row['name']),
    email: String(row['email']),
    phone: (row['phone'] as string | null) ?? null,
    specialization: String(row['specialization']),
    isActive: Boolean(row['is_active']),
    version: Number(row['version']),
    createdAt: isoString(row['created_at']),
    updatedAt: isoString(row['updated_at']),
  };
}

export const technicianTable = new VersionedTable<Technician>({
  table: 'technicians',
  label: 'Technician',
  columns: technicianColumns,
  fromRow: technicianFromRow,
  order: [{ column: 'id', direction: 'ASC', kind: 'id' }],
  conflicts: {
    uq_technicians_email: {
      detail: 'Another technician has this email address.',
      pointer: '#/email',
    },
    uq_technicians_external_id: {
      detail: 'Another technician has this external id.',
      pointer: '#/externalId',
    },
    fk_service_records_technician: {
      detail:
        'This technician has service records; deactivate them instead (PUT with "isActive": false).',
    },
    fk_assignments_technician: {
      detail:
        'This technician is assigned to equipment; unassign them first or deactivate them instead.',
    },
  },
});

function columns(input: TechnicianInput): Record<string, unknown> {
  return {
    external_id: input.externalId ?? null,
    name: input.name,
    email: input.email,
    phone: input.phone ?? null,
    specialization: input.specialization,
    is_active: input.isActive,
  };
}

export interface TechnicianFilter {
  active?: boolean | undefined;
  specialization?: string | undefined;
}

export function listTechnicians(
  db: Queryable,
  filter: TechnicianFilter,
  page: PageRequest,
): Promise<Page<Technician>> {
  const conditions = filterConditions([
    ['is_active', '=', filter.active],
    ['specialization', '=', filter.specialization],
  ]);
  return technicianTable.list(db, conditions, page);
}

export function getTechnician(pool: Pool, id: number): Promise<Technician> {
  return technicianTable.get(pool, id);
}

/**
 * SQL condition matching `column` (an `external_id`) to a token subject byte for byte; bind
 * the subject twice. The tables' `utf8mb4_bin` collation is PAD SPACE, in MariaDB and MySQL
 * alike, so `'tech-1 ' = 'tech-1'` holds and a plain `=` would hand a lookalike subject the
 * technician's identity. The first comparison lets the unique index find the one candidate;
 * the binary one (bytes, no padding) keeps it only when it is exactly the subject. Identity
 * is therefore never widened by case, padding or trimming.
 */
export function externalIdIs(column: string): string {
  return `${column} = ? AND CAST(${column} AS BINARY) = CAST(? AS BINARY)`;
}

/** The technician row a token subject belongs to, if any. */
export async function technicianForSubject(
  db: Queryable,
  subject: string,
): Promise<Technician | undefined> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT ${technicianColumns.join(', ')} FROM technicians WHERE ${externalIdIs('external_id')}`,
    [subject, subject],
  );
  // Checked again here, so no future change to the query can widen who is who.
  const row = rows.find((candidate) => candidate['external_id'] === subject);
  return row ? technicianFromRow(row) : undefined;
}

export function createTechnician(
  pool: Pool,
  principal: Principal,
  input: TechnicianInput,
): Promise<Technician> {
  requireRole(principal, 'Admin');
  return technicianTable.insert(pool, columns(input), recordTechnician(principal));
}

export function replaceTechnician(
  pool: Pool,
  principal: Principal,
  id: number,
  input: TechnicianInput,
  ifMatch: VersionCondition,
): Promise<Technician> {
  requireRole(principal, 'Admin');
  return technicianTable.replace(
    pool,
    id,
    columns(input),
    ifMatch,
    undefined,
    recordTechnician(principal),
  );
}

export function deleteTechnician(
  pool: Pool,
  principal: Principal,
  id: number,
  ifMatch: VersionCondition,
): Promise<void> {
  requireRole(principal, 'Admin');
  return technicianTable.remove(pool, id, ifMatch, recordTechnician(principal));
}
