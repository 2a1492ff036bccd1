/** MySQL rows that decide who sees which equipment: equipment with given ids, technicians, assignments. */
import type { Pool } from 'mysql2/promise';

/** Makes `subject` an active technician assigned to `equipmentIds` (creating missing rows). */
export async function assignTechnician(
  pool: Pool,
  subject: string,
  equipmentIds: readonly number[],
  options: { active?: boolean } = {},
): Promise<number> {
  for (const id of equipmentIds) {
    await pool.query(
      `INSERT IGNORE INTO equipment (id, serial_number, name, type, status)
       VALUES (?, ?, ?, 'excavator', 'Operational')`,
      [id, `SN-AUD-${id}`, `Machine ${id}`],
    );
  }
  await pool.query(
    `INSERT INTO technicians (external_id, name, email, specialization, is_active)
     VALUES (?, ?, ?, 'hydraulics', ?)
     ON DUPLICATE KEY UPDATE is_active = VALUES(is_active)`,
    [subject, subject, `${subject}@example.com`, options.active ?? true],
  );
  const [rows] = await pool.query<(import('mysql2/promise').RowDataPacket & { id: number })[]>(
    'SELECT id FROM technicians WHERE external_id = ?',
    [subject],
  );
  const technicianId = Number(rows[0]?.id);
  for (const id of equipmentIds) {
    await pool.query(
      'INSERT IGNORE INTO equipment_technicians (equipment_id, technician_id) VALUES (?, ?)',
      [id, technicianId],
    );
  }
  return technicianId;
}

/**
 * Subjects that differ from a technician's `externalId` only by what a PAD SPACE collation,
 * a trim or a case fold would ignore. None of them may borrow that technician's identity.
 */
export function lookalikeSubjects(subject: string): string[] {
  return [`${subject} `, `${subject}\t`, ` ${subject}`, subject.toUpperCase(), `${subject}\u0000`];
}
