/**
 * Rows to test against: sample bodies, items created through the API as Admin, and rows
 * inserted directly (for bulk and for states the API cannot reach).
 */
import type { Pool } from 'mysql2/promise';
import { expect } from 'vitest';
import type { Equipment, Technician } from '../../lib/api/schemas.js';
import { call } from './api.js';
import { queryRows } from './rows.js';

/** A complete equipment body. */
export const excavator = {
  serialNumber: 'CAT-336-00042',
  name: 'Excavator 42',
  type: 'excavator',
  manufacturer: 'Caterpillar',
  model: '336',
  location: 'Quarry North',
  status: 'Operational',
  commissionedOn: '2021-04-01',
};

/** A complete technician body; `tech-1` is the subject of the test files' technician token. */
export const ana = {
  externalId: 'tech-1',
  name: 'Ana Lima',
  email: 'ana.lima@example.com',
  phone: '+47 (22) 123-456',
  specialization: 'hydraulics',
  isActive: true,
};

let counter = 0;
/** A number not handed out before in this test file (for unique serials, emails, tags). */
export function unique(): number {
  counter += 1;
  return counter;
}

export interface AdminFixtures {
  /** Creates equipment: the excavator with a unique serial number, then `overrides`. */
  createEquipment: (overrides?: Record<string, unknown>) => Promise<Equipment>;
  /** Creates a technician: Ana with a unique external id and email, then `overrides`. */
  createTechnician: (overrides?: Record<string, unknown>) => Promise<Technician>;
}

/** Creators that post as `tokens.admin` (read when called, so it may be filled in later). */
export function adminFixtures(tokens: { readonly admin: string }): AdminFixtures {
  return {
    createEquipment: async (overrides = {}) => {
      const n = unique();
      const res = await call('POST', '/api/equipment', {
        token: tokens.admin,
        json: { ...excavator, serialNumber: `SN-${n}`, ...overrides },
      });
      expect(res.status, res.text.slice(0, 500)).toBe(201);
      return res.body as Equipment;
    },
    createTechnician: async (overrides = {}) => {
      const n = unique();
      const res = await call('POST', '/api/technicians', {
        token: tokens.admin,
        json: { ...ana, externalId: `ext-${n}`, email: `tech${n}@example.com`, ...overrides },
      });
      expect(res.status, res.text.slice(0, 500)).toBe(201);
      return res.body as Technician;
    },
  };
}

/** Inserts `count` equipment rows with the given status; returns their ids in ascending order. */
export async function insertEquipmentRows(
  pool: Pool,
  count: number,
  status = 'Operational',
): Promise<number[]> {
  const tag = `BULK-${unique()}-`;
  const values = Array.from({ length: count }, (_, i) => [
    `${tag}${i}`,
    `Bulk ${i}`,
    'loader',
    status,
  ]);
  await pool.query('INSERT INTO equipment (serial_number, name, type, status) VALUES ?', [values]);
  const found = await queryRows(
    pool,
    'SELECT id FROM equipment WHERE serial_number LIKE ? ORDER BY id',
    [`${tag}%`],
  );
  return found.map((r) => Number(r['id']));
}

/** Inserts `count` technicians; returns their ids in ascending order. */
export async function insertTechnicianRows(
  pool: Pool,
  count: number,
  options: { active?: boolean; specialization?: string } = {},
): Promise<number[]> {
  const tag = `bulk-${unique()}-`;
  const values = Array.from({ length: count }, (_, i) => [
    `Bulk ${i}`,
    `${tag}${i}@example.com`,
    options.specialization ?? 'engines',
    options.active ?? true,
  ]);
  await pool.query('INSERT INTO technicians (name, email, specialization, is_active) VALUES ?', [
    values,
  ]);
  const found = await queryRows(pool, 'SELECT id FROM technicians WHERE email LIKE ? ORDER BY id', [
    `${tag}%`,
  ]);
  return found.map((r) => Number(r['id']));
}

/** Inserts a completed repair record for the equipment (and technician, if given). */
export async function insertServiceRecord(
  pool: Pool,
  equipmentId: number,
  technicianId: number | null = null,
): Promise<void> {
  await pool.query(
    `INSERT INTO service_records (equipment_id, technician_id, service_type, status, service_date, description)
     VALUES (?, ?, 'repair', 'completed', '2024-03-01 08:00:00', 'Replaced hydraulic hose')`,
    [equipmentId, technicianId],
  );
}
