import { beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/api.js';
import { useTestIssuer } from '../helpers/auth.js';
import { useTestDatabase } from '../helpers/database.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
let admin: string;
let technician: string;

const excavator = {
  serialNumber: 'CAT-336-00042',
  name: 'Excavator 42',
  type: 'excavator',
  manufacturer: 'Caterpillar',
  model: '336',
  location: 'Quarry North',
  status: 'operational',
  commissionedOn: '2021-04-01',
};

beforeAll(async () => {
  admin = await issuer.token(['Admin']);
  technician = await issuer.token(['Technician'], 'tech-1');
});

describe('equipment', () => {
  it('creates, reads, replaces and deletes with ETags', async () => {
    const created = await call('POST', '/api/equipment', { token: admin, json: excavator });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...excavator, version: 1 });
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.headers.get('location')).toBe(`/api/equipment/${created.body.id}`);

    const read = await call('GET', `/api/equipment/${created.body.id}`, { token: technician });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    const replaced = await call('PUT', `/api/equipment/${created.body.id}`, {
      token: admin,
      json: { ...excavator, status: 'maintenance' },
      headers: { 'if-match': '"1"' },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ status: 'maintenance', version: 2 });
    expect(replaced.headers.get('etag')).toBe('"2"');

    const stale = await call('DELETE', `/api/equipment/${created.body.id}`, {
      token: admin,
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);
    expect(stale.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const deleted = await call('DELETE', `/api/equipment/${created.body.id}`, {
      token: admin,
      headers: { 'if-match': '"2"' },
    });
    expect(deleted.status).toBe(204);
    const [rows] = await db.pool.query('SELECT COUNT(*) AS n FROM equipment');
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('refuses a technician creating equipment with 403 and no token with 401', async () => {
    const forbidden = await call('POST', '/api/equipment', { token: technician, json: excavator });
    expect(forbidden.status).toBe(403);
    const anonymous = await call('POST', '/api/equipment', { json: excavator });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});
