/** Which technicians look after which equipment. Assigning is idempotent. */
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { requireRole, type Principal } from '../auth.js';
import { HttpError } from '../errors.js';
import { isoString, inTransaction, VersionedTable } from '../mysql/table.js';
import type { Page, PageRequest } from '../paging.js';
import { equipmentTable } from './equipment.js';
import { actorOf, appendEvents } from './history.js';
import type { Assignment } from './schemas.js';
import { technicianColumns, technicianFromRow, technicianTable } from './technicians.js';

const assignmentTable = new VersionedTable<Assignment & { version: number; technician_id: number }>(
  {
    table: 'equipment_technicians',
    label: 'Assignment',
    columns: [
      ...technicianColumns.map((c) => `t.${c}`),
      'a.equipment_id',
      'a.technician_id',
      'a.assigned_at',
    ],
    fromRow: (row: RowDataPacket) => ({
      equipmentId: Number(row['equipment_id']),
      technician: technicianFromRow(row),
      assignedAt: isoString(row['assigned_at']),
      technician_id: Number(row['technician_id']),
      version: Number(row['version']),
    }),
    order: [{ column: 'a.technician_id', direction: 'ASC', kind: 'id' }],
    conflicts: {},
  },
);

const joined = 'equipment_technicians a JOIN technicians t ON t.id = a.technician_id';

function toAssignment(row: Assignment & { technician_id: number; version: number }): Assignment {
  return { equipmentId: row.equipmentId, technician: row.technician, assignedAt: row.assignedAt };
}

export async function listAssignments(
  pool: Pool,
  equipmentId: number,
  page: PageRequest,
): Promise<Page<Assignment>> {
  await equipmentTable.get(pool, equipmentId);
  const result = await assignmentTable.list(
    pool,
    [{ sql: 'a.equipment_id = ?', params: [equipmentId] }],
    page,
    joined,
  );
  return { items: result.items.map(toAssignment), nextCursor: result.nextCursor };
}

/** Assigns a technician; returns whether the assignment is new. */
export async function assignTechnician(
  pool: Pool,
  principal: Principal,
  equipmentId: number,
  technicianId: number,
): Promise<{ assignment: Assignment; created: boolean }> {
  requireRole(principal, 'Admin');
  return inTransaction(pool, async (connection) => {
    // Lock both parents so a concurrent delete cannot slip between the checks and the insert.
    if (!(await equipmentTable.find(connection, equipmentId, true)))
      throw equipmentTable.notFound(equipmentId);
    const technician = await technicianTable.find(connection, technicianId, true);
    if (!technician) throw technicianTable.notFound(technicianId);
    const [existing] = await connection.query<RowDataPacket[]>(
      'SELECT assigned_at FROM equipment_technicians WHERE equipment_id = ? AND technician_id = ? FOR UPDATE',
      [equipmentId, technicianId],
    );
    // Repeating an assignment that exists is idempotent, even if the technician has since
    // been deactivated; only a new assignment needs an active technician.
    const already = existing[0];
    if (already) {
      return {
        assignment: { equipmentId, technician, assignedAt: isoString(already['assigned_at']) },
        created: false,
      };
    }
    if (!technician.isActive) {
      throw new HttpError(
        'conflict',
        `Technician ${technicianId} is deactivated and cannot be assigned.`,
      );
    }
    await connection.query(
      'INSERT INTO equipment_technicians (equipment_id, technician_id) VALUES (?, ?)',
      [equipmentId, technicianId],
    );
    const [rows] = await connection.query<RowDataPacket[]>(
      'SELECT assigned_at FROM equipment_technicians WHERE equipment_id = ? AND technician_id = ?',
      [equipmentId, technicianId],
    );
    await appendEvents(connection, [
      {
        aggregate: 'equipment',
        aggregateId: equipmentId,
        type: 'TechnicianAssigned',
        actor: actorOf(principal),
        after: { technicianId },
      },
    ]);
    return {
      assignment: { equipmentId, technician, assignedAt: isoString(rows[0]?.['assigned_at']) },
      created: true,
    };
  });
}

export async function unassignTechnician(
  pool: Pool,
  principal: Principal,
  equipmentId: number,
  technicianId: number,
): Promise<void> {
  requireRole(principal, 'Admin');
  const removed = await inTransaction(pool, async (connection) => {
    const [result] = await connection.query<ResultSetHeader>(
      'DELETE FROM equipment_technicians WHERE equipment_id = ? AND technician_id = ?',
      [equipmentId, technicianId],
    );
    if (result.affectedRows === 0) return false;
    await appendEvents(connection, [
      {
        aggregate: 'equipment',
        aggregateId: equipmentId,
        type: 'TechnicianUnassigned',
        actor: actorOf(principal),
        before: { technicianId },
      },
    ]);
    return true;
  });
  if (!removed) {
    await equipmentTable.get(pool, equipmentId);
    throw new HttpError(
      'not-found',
      `Technician ${technicianId} is not assigned to equipment ${equipmentId}.`,
    );
  }
}
