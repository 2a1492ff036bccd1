/**
 * Demo data for the local stack, inserted once into an empty database: technicians linked to
 * dev-issuer subjects, a fleet of 200 machines (ids 1..200, which the device simulator uses),
 * assignments and a little service history.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';

export const demoTechnicians = [
  {
    externalId: 'tech-alice',
    name: 'Alice Moreau',
    email: 'alice@example.com',
    specialization: 'hydraulics',
  },
  {
    externalId: 'tech-bashir',
    name: 'Bashir Haddad',
    email: 'bashir@example.com',
    specialization: 'engines',
  },
  {
    externalId: 'tech-chen',
    name: 'Chen Wei',
    email: 'chen@example.com',
    specialization: 'electrical',
  },
] as const;

const fleet = [
  ['excavator', 'Caterpillar', '336'],
  ['bulldozer', 'Komatsu', 'D155AX'],
  ['wheel_loader', 'Volvo', 'L120H'],
  ['haul_truck', 'Caterpillar', '777G'],
  ['crane', 'Liebherr', 'LTM 1100'],
] as const;
const sites = ['Quarry North', 'Harbour Yard', 'Tunnel Site B', 'Depot'] as const;

/** Seeds when every table is empty; returns whether it did. */
export async function seedDemoData(pool: Pool, equipmentCount = 200): Promise<boolean> {
  const [counts] = await pool.query<RowDataPacket[]>(
    'SELECT (SELECT COUNT(*) FROM equipment) + (SELECT COUNT(*) FROM technicians) + (SELECT COUNT(*) FROM service_records) AS total',
  );
  if (Number(counts[0]?.['total']) > 0) return false;
  const connection = await pool.getConnection();
  try {
    await connection.beginTransaction();
    for (const technician of demoTechnicians) {
      await connection.query(
        'INSERT INTO technicians (external_id, name, email, specialization) VALUES (?, ?, ?, ?)',
        [technician.externalId, technician.name, technician.email, technician.specialization],
      );
    }
    for (let i = 1; i <= equipmentCount; i++) {
      const [type, manufacturer, model] = fleet[(i - 1) % fleet.length] ?? fleet[0];
      await connection.query(
        `INSERT INTO equipment (id, serial_number, name, type, manufacturer, model, location, status, commissioned_on)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'Operational', ?)`,
        [
          i,
          `SN-${String(i).padStart(5, '0')}`,
          `${manufacturer} ${model} #${i}`,
          type,
          manufacturer,
          model,
          sites[i % sites.length],
          `20${String(15 + (i % 10)).padStart(2, '0')}-0${1 + (i % 9)}-15`,
        ],
      );
      await connection.query(
        'INSERT INTO equipment_technicians (equipment_id, technician_id) VALUES (?, ?)',
        [i, 1 + (i % demoTechnicians.length)],
      );
      await connection.query(
        `INSERT INTO service_records (equipment_id, technician_id, service_type, status, service_date, description, labor_hours, cost)
         VALUES (?, ?, 'inspection', 'completed', ?, 'Commissioning inspection', 2.5, 125.50)`,
        [
          i,
          1 + (i % demoTechnicians.length),
          new Date(Date.UTC(2026, 0, i)).toISOString().slice(0, 10),
        ],
      );
    }
    await connection.commit();
    return true;
  } catch (error) {
    await connection.rollback();
    throw error;
  } finally {
    connection.release();
  }
}
