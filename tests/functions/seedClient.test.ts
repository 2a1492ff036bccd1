/**
 * A client written from the seed's design notes (../shared/seeds, "Database Design" and "API
 * Design"): it knows only the seed's columns, spelt as the seed spells them, and must create,
 * list, filter, update and delete equipment, technicians and service records without a 400.
 * Runs against a real MariaDB database with real signed tokens.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call } from '../helpers/api.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import { rowHelpers } from '../helpers/rows.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, { admin: [['Admin'], 'admin-1'] });
const { rows } = rowHelpers(db);

beforeEach(() => truncateAll(db.pool));

/** Sends `json` as the admin and expects `status`; returns the body. */
async function expectStatus(
  method: 'POST' | 'PUT' | 'GET' | 'DELETE',
  path: string,
  status: number,
  json?: unknown,
): Promise<Record<string, unknown>> {
  const res = await call(method, path, {
    token: tokens.admin,
    ...(json === undefined ? {} : { json }),
  });
  expect(res.status, `${method} ${path}: ${res.text.slice(0, 500)}`).toBe(status);
  return res.body as Record<string, unknown>;
}

/** The ids of a single-page list. */
async function listIds(path: string): Promise<number[]> {
  const page = await expectStatus('GET', path, 200);
  expect(page['nextCursor']).toBeNull();
  return (page['items'] as { id: number }[]).map((item) => item.id);
}

describe("a client written from the seed's schema", () => {
  it('creates, lists, filters, updates and deletes equipment with every seed field', async () => {
    const seedEquipment = {
      name: 'Excavator 7',
      type: 'Excavator',
      location: 'Quarry North',
      status: 'Operational',
    };
    const created = await expectStatus('POST', '/api/equipment', 201, seedEquipment);
    expect(created).toMatchObject({ ...seedEquipment, serialNumber: null });
    expect(created['createdAt']).toEqual(expect.any(String));
    expect(created['updatedAt']).toEqual(expect.any(String));
    const id = created['id'] as number;
    const other = await expectStatus('POST', '/api/equipment', 201, {
      ...seedEquipment,
      name: 'Loader 2',
      status: 'Offline',
    });
    // No serial number twice is no conflict: uniqueness holds only for given ones.
    expect(other['serialNumber']).toBeNull();

    expect(await listIds('/api/equipment')).toEqual([id, other['id']]);
    expect(await listIds('/api/equipment?status=Operational')).toEqual([id]);
    expect(await listIds('/api/equipment?status=Offline')).toEqual([other['id']]);

    for (const status of ['Maintenance', 'Offline', 'Operational']) {
      const updated = await expectStatus('PUT', `/api/equipment/${id}`, 200, {
        ...seedEquipment,
        location: 'Workshop',
        status,
      });
      expect(updated).toMatchObject({ location: 'Workshop', status });
      expect(await expectStatus('GET', `/api/equipment/${id}`, 200)).toMatchObject({ status });
    }
    const [row] = await rows('SELECT status, serial_number FROM equipment WHERE id = ?', [id]);
    expect(row).toEqual({ status: 'Operational', serial_number: null });

    await expectStatus('DELETE', `/api/equipment/${id}`, 204);
    await expectStatus('GET', `/api/equipment/${id}`, 404);
  });

  it('creates, lists, filters, updates and deletes technicians with every seed field', async () => {
    const seedTechnician = {
      name: 'Ana Lima',
      email: 'ana.lima@example.com',
      specialization: 'Hydraulics',
      isActive: true,
    };
    const created = await expectStatus('POST', '/api/technicians', 201, seedTechnician);
    expect(created).toMatchObject(seedTechnician);
    const id = created['id'] as number;
    const retiredTech = await expectStatus('POST', '/api/technicians', 201, {
      ...seedTechnician,
      email: 'bo@example.com',
      specialization: 'Engines',
      isActive: false,
    });

    expect(await listIds('/api/technicians')).toEqual([id, retiredTech['id']]);
    expect(await listIds('/api/technicians?active=true')).toEqual([id]);
    expect(await listIds('/api/technicians?specialization=Engines')).toEqual([retiredTech['id']]);

    const updated = await expectStatus('PUT', `/api/technicians/${id}`, 200, {
      ...seedTechnician,
      specialization: 'Electrical',
      isActive: false,
    });
    expect(updated).toMatchObject({ specialization: 'Electrical', isActive: false });
    expect(await expectStatus('GET', `/api/technicians/${id}`, 200)).toMatchObject(updated);

    await expectStatus('DELETE', `/api/technicians/${id}`, 204);
    await expectStatus('GET', `/api/technicians/${id}`, 404);
  });

  it('creates, lists, filters, updates and deletes service records with every seed field', async () => {
    const equipment = await expectStatus('POST', '/api/equipment', 201, {
      name: 'Excavator 7',
      type: 'Excavator',
      location: 'Quarry North',
      status: 'Operational',
    });
    const technician = await expectStatus('POST', '/api/technicians', 201, {
      name: 'Ana Lima',
      email: 'ana.lima@example.com',
      specialization: 'Hydraulics',
      isActive: true,
    });
    const seedRecord = {
      equipmentId: equipment['id'],
      serviceDate: '2026-11-20',
      technicianId: technician['id'],
      serviceType: 'Inspection',
      description: 'Annual inspection',
      cost: 125.5,
      status: 'completed',
    };
    const created = await expectStatus('POST', '/api/service-records', 201, seedRecord);
    expect(created).toMatchObject(seedRecord);
    const id = created['id'] as number;
    const [stored] = await rows(
      'SELECT service_date, service_type, cost, status FROM service_records WHERE id = ?',
      [id],
    );
    expect(stored).toEqual({
      service_date: '2026-11-20',
      service_type: 'Inspection',
      cost: 125.5,
      status: 'completed',
    });
    const planned = await expectStatus('POST', '/api/service-records', 201, {
      ...seedRecord,
      serviceDate: '2026-12-01',
      serviceType: 'Track tension check',
      status: 'Pending',
      cost: 0,
    });

    expect(await listIds('/api/service-records')).toEqual([planned['id'], id]);
    expect(await listIds('/api/service-records?status=completed')).toEqual([id]);
    expect(await listIds('/api/service-records?status=Pending')).toEqual([planned['id']]);
    expect(
      await listIds(`/api/service-records?equipmentId=${String(equipment['id'])}&to=2026-12-01`),
    ).toEqual([id]);

    const updated = await expectStatus('PUT', `/api/service-records/${id}`, 200, {
      ...seedRecord,
      cost: 130,
      serviceDate: '2026-11-21',
      status: 'invoiced',
    });
    expect(updated).toMatchObject({ cost: 130, serviceDate: '2026-11-21', status: 'invoiced' });
    expect(await expectStatus('GET', `/api/service-records/${id}`, 200)).toMatchObject(updated);

    await expectStatus('DELETE', `/api/service-records/${id}`, 204);
    await expectStatus('GET', `/api/service-records/${id}`, 404);
    expect(await listIds('/api/service-records')).toEqual([planned['id']]);
  });
});
