/**
 * /api/equipment/{id}/technicians: assigning (idempotent), listing and unassigning, against
 * a real MariaDB database and real signed tokens.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { call, type ApiResult } from '../helpers/api.js';
import { useTestIssuer, useTokens } from '../helpers/auth.js';
import { truncateAll, useTestDatabase } from '../helpers/database.js';
import {
  adminFixtures,
  ana,
  insertServiceRecord,
  insertTechnicianRows,
} from '../helpers/fixtures.js';
import { walkPages } from '../helpers/lists.js';
import { expectParameterProblem, expectProblem } from '../helpers/problems.js';
import { rowHelpers } from '../helpers/rows.js';

const db = useTestDatabase();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  admin: [['Admin']],
  technician: [['Technician'], 'tech-sub'],
});
const { rows, expectNothingChanged } = rowHelpers(db);
const { createEquipment, createTechnician } = adminFixtures(tokens);

async function assignmentRows() {
  return rows(
    'SELECT equipment_id, technician_id FROM equipment_technicians ORDER BY equipment_id, technician_id',
  );
}

/** Creates equipment; returns its id, which is all these tests need of it. */
async function newEquipmentId(): Promise<number> {
  return (await createEquipment()).id;
}

function assign(
  equipmentId: number,
  technicianId: number,
  token = tokens.admin,
): Promise<ApiResult> {
  return call('PUT', `/api/equipment/${equipmentId}/technicians/${technicianId}`, { token });
}

/** Assigns `count` new technicians (inserted directly) to `equipmentId`; returns their ids. */
async function bulkAssign(equipmentId: number, count: number): Promise<number[]> {
  const ids = await insertTechnicianRows(db.pool, count);
  await db.pool.query('INSERT INTO equipment_technicians (equipment_id, technician_id) VALUES ?', [
    ids.map((id) => [equipmentId, id]),
  ]);
  return ids;
}

function technicianIds(res: ApiResult): number[] {
  return (res.body.items as { technician: { id: number } }[]).map((i) => i.technician.id);
}

/** The ids of the technicians listed for `equipmentId` (one page, as Admin). */
async function listedTechnicianIds(equipmentId: number): Promise<number[]> {
  const res = await call('GET', `/api/equipment/${equipmentId}/technicians`, {
    token: tokens.admin,
  });
  expect(res.status).toBe(200);
  return technicianIds(res);
}

beforeEach(async () => {
  await truncateAll(db.pool);
});

describe('assignments: assign', () => {
  it('answers 201 the first time and 200 when repeated, keeping one row', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    const first = await assign(equipmentId, tech.id);
    expect(first.status).toBe(201);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    expect(first.body).toEqual({
      equipmentId,
      technician: tech,
      assignedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(await assignmentRows()).toEqual([{ equipment_id: equipmentId, technician_id: tech.id }]);

    await expectNothingChanged(async () => {
      const again = await assign(equipmentId, tech.id);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      const third = await assign(equipmentId, tech.id);
      expect(third.status).toBe(200);
      expect(third.body.assignedAt).toBe(first.body.assignedAt);
    });
  });

  it('creates one row when the same assignment is requested concurrently', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    const results = await Promise.all([1, 2, 3, 4].map(() => assign(equipmentId, tech.id)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 201]);
    const assignedAt = new Set(results.map((r) => r.body.assignedAt as string));
    expect(assignedAt.size).toBe(1);
    expect(await assignmentRows()).toEqual([{ equipment_id: equipmentId, technician_id: tech.id }]);
  });

  it('reports the stored assignment time', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    const res = await assign(equipmentId, tech.id);
    const stored = await rows('SELECT assigned_at FROM equipment_technicians');
    expect((stored[0]?.['assigned_at'] as Date).toISOString()).toBe(res.body.assignedAt);
  });

  it('assigns one technician to several machines and several technicians to one machine', async () => {
    const [e1, e2] = [await newEquipmentId(), await newEquipmentId()];
    const [t1, t2] = [await createTechnician(), await createTechnician()];
    for (const [e, t] of [
      [e1, t1.id],
      [e1, t2.id],
      [e2, t1.id],
    ] as const) {
      expect((await assign(e, t)).status).toBe(201);
    }
    expect(await assignmentRows()).toEqual([
      { equipment_id: e1, technician_id: t1.id },
      { equipment_id: e1, technician_id: t2.id },
      { equipment_id: e2, technician_id: t1.id },
    ]);
  });

  it('answers 404 for unknown equipment or an unknown technician and stores nothing', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    await expectNothingChanged(async () => {
      const noEquipment = `/api/equipment/${equipmentId + 1}/technicians/${tech.id}`;
      const a = await call('PUT', noEquipment, { token: tokens.admin });
      expectProblem(a, 404, noEquipment);
      expect(a.body.detail).toMatch(/Equipment/);
      const noTechnician = `/api/equipment/${equipmentId}/technicians/${tech.id + 1}`;
      const b = await call('PUT', noTechnician, { token: tokens.admin });
      expectProblem(b, 404, noTechnician);
      expect(b.body.detail).toMatch(/Technician/);
      const neither = `/api/equipment/${equipmentId + 1}/technicians/${tech.id + 1}`;
      expectProblem(await call('PUT', neither, { token: tokens.admin }), 404, neither);
    });
    expect(await assignmentRows()).toEqual([]);
  });

  it('answers 409 for a deactivated technician and stores nothing', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician({ isActive: false });
    const path = `/api/equipment/${equipmentId}/technicians/${tech.id}`;
    await expectNothingChanged(async () => {
      const res = await call('PUT', path, { token: tokens.admin });
      expectProblem(res, 409, path);
      expect(res.body.detail).toMatch(/deactivated/);
    });
    expect(await assignmentRows()).toEqual([]);
  });

  it('answers 409 once a technician is deactivated through the API', async () => {
    const equipmentId = await newEquipmentId();
    const other = await newEquipmentId();
    const tech = await createTechnician();
    expect((await assign(equipmentId, tech.id)).status).toBe(201);
    const deactivated = await call('PUT', `/api/technicians/${tech.id}`, {
      token: tokens.admin,
      json: {
        name: tech.name,
        email: tech.email,
        specialization: tech.specialization,
        isActive: false,
      },
    });
    expect(deactivated.status).toBe(200);
    const path = `/api/equipment/${other}/technicians/${tech.id}`;
    await expectNothingChanged(async () => {
      expectProblem(await call('PUT', path, { token: tokens.admin }), 409, path);
    });
    expect(await assignmentRows()).toEqual([{ equipment_id: equipmentId, technician_id: tech.id }]);
  });
});

describe('assignments: deactivated technicians', () => {
  /** Deactivates through the API, as the README says to instead of deleting. */
  async function deactivate(technician: { id: number; externalId: string | null; email: string }) {
    const res = await call('PUT', `/api/technicians/${technician.id}`, {
      token: tokens.admin,
      json: { ...ana, externalId: technician.externalId, email: technician.email, isActive: false },
      headers: { 'if-match': '"1"' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ isActive: false, version: 2 });
    return res.body as Record<string, unknown>;
  }

  it('answers 200 with the original assignedAt when an existing assignment is repeated', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    const first = await assign(equipmentId, tech.id);
    expect(first.status).toBe(201);
    const deactivated = await deactivate(tech);
    await expectNothingChanged(async () => {
      for (let i = 0; i < 2; i++) {
        const again = await assign(equipmentId, tech.id);
        expect(again.status).toBe(200);
        expect(again.headers.get('content-type')).toMatch(/^application\/json/);
        expect(again.body).toEqual({
          equipmentId,
          technician: deactivated,
          assignedAt: first.body.assignedAt,
        });
      }
    });
    const list = await call('GET', `/api/equipment/${equipmentId}/technicians`, {
      token: tokens.admin,
    });
    expect(list.body.items).toEqual([
      { equipmentId, technician: deactivated, assignedAt: first.body.assignedAt },
    ]);
  });

  it('still answers 409 when the deactivated technician is assigned to other equipment', async () => {
    const assigned = await newEquipmentId();
    const other = await newEquipmentId();
    const tech = await createTechnician();
    expect((await assign(assigned, tech.id)).status).toBe(201);
    await deactivate(tech);
    const path = `/api/equipment/${other}/technicians/${tech.id}`;
    await expectNothingChanged(async () => {
      const res = await call('PUT', path, { token: tokens.admin });
      expectProblem(res, 409, path);
      expect(res.body.detail).toMatch(/deactivated/);
      // The idempotent answer for the existing assignment does not leak into the new one.
      expect((await assign(assigned, tech.id)).status).toBe(200);
      expectProblem(await call('PUT', path, { token: tokens.admin }), 409, path);
    });
    expect(await assignmentRows()).toEqual([{ equipment_id: assigned, technician_id: tech.id }]);
  });

  it('answers 409 when a removed assignment of a deactivated technician is made again', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    expect((await assign(equipmentId, tech.id)).status).toBe(201);
    await deactivate(tech);
    const path = `/api/equipment/${equipmentId}/technicians/${tech.id}`;
    expect((await call('DELETE', path, { token: tokens.admin })).status).toBe(204);
    await expectNothingChanged(async () => {
      expectProblem(await call('PUT', path, { token: tokens.admin }), 409, path);
    });
    expect(await assignmentRows()).toEqual([]);
  });
});

describe('assignments: list', () => {
  it('lists the technicians of one machine in technician id order, with their current data', async () => {
    const equipmentId = await newEquipmentId();
    const other = await newEquipmentId();
    const t1 = await createTechnician();
    const t2 = await createTechnician();
    const t3 = await createTechnician();
    expect((await assign(equipmentId, t3.id)).status).toBe(201);
    expect((await assign(equipmentId, t1.id)).status).toBe(201);
    expect((await assign(other, t2.id)).status).toBe(201);
    const renamed = await call('PUT', `/api/technicians/${t1.id}`, {
      token: tokens.admin,
      json: { name: 'Renamed', email: t1.email, specialization: 'electrics' },
    });
    expect(renamed.status).toBe(200);

    const res = await call('GET', `/api/equipment/${equipmentId}/technicians`, {
      token: tokens.technician,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: [
        { equipmentId, technician: renamed.body, assignedAt: expect.any(String) },
        { equipmentId, technician: t3, assignedAt: expect.any(String) },
      ],
      nextCursor: null,
    });
    expect(await listedTechnicianIds(other)).toEqual([t2.id]);
  });

  it('tags the list weakly: 304 for the same tag until an assignment changes it', async () => {
    const equipmentId = await newEquipmentId();
    const path = `/api/equipment/${equipmentId}/technicians`;
    const list = (ifNoneMatch?: string) =>
      call('GET', path, {
        token: tokens.technician,
        ...(ifNoneMatch === undefined ? {} : { headers: { 'if-none-match': ifNoneMatch } }),
      });
    const tag = (await list()).headers.get('etag') ?? '';
    expect(tag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
    expect((await list(tag)).status).toBe(304);
    expect((await assign(equipmentId, (await createTechnician()).id)).status).toBe(201);
    const changed = await list(tag);
    expect(changed.status).toBe(200);
    expect(changed.body.items).toHaveLength(1);
    expect(changed.headers.get('etag')).not.toBe(tag);
  });

  it('lists nothing for a machine without technicians', async () => {
    const equipmentId = await newEquipmentId();
    const res = await call('GET', `/api/equipment/${equipmentId}/technicians`, {
      token: tokens.admin,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], nextCursor: null });
  });

  it('answers 404 for unknown equipment', async () => {
    const equipmentId = await newEquipmentId();
    const path = `/api/equipment/${equipmentId + 1}/technicians`;
    expectProblem(await call('GET', path, { token: tokens.admin }), 404, path);
  });

  it('walks every page with no duplicates or gaps', async () => {
    const equipmentId = await newEquipmentId();
    const other = await newEquipmentId();
    const ids = await bulkAssign(equipmentId, 7);
    await bulkAssign(other, 3);
    const { ids: seen, pages } = await walkPages(
      `/api/equipment/${equipmentId}/technicians?limit=3`,
      tokens.admin,
      { idOf: (item: { technician: { id: number } }) => item.technician.id, maxItems: 3 },
    );
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
  });

  it('returns 50 by default and at most 200', async () => {
    const equipmentId = await newEquipmentId();
    const ids = await bulkAssign(equipmentId, 201);
    const path = `/api/equipment/${equipmentId}/technicians`;
    const first = await call('GET', path, { token: tokens.admin });
    expect(technicianIds(first)).toEqual(ids.slice(0, 50));
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const max = await call('GET', `${path}?limit=200`, { token: tokens.admin });
    expect(technicianIds(max)).toEqual(ids.slice(0, 200));
    const rest = await call(
      'GET',
      `${path}?limit=200&cursor=${encodeURIComponent(max.body.nextCursor)}`,
      { token: tokens.admin },
    );
    expect(technicianIds(rest)).toEqual([ids[200]]);
    expect(rest.body.nextCursor).toBeNull();
  });

  it('refuses bad limits, tampered cursors, unknown and repeated parameters', async () => {
    const equipmentId = await newEquipmentId();
    await bulkAssign(equipmentId, 3);
    const path = `/api/equipment/${equipmentId}/technicians`;
    for (const limit of ['0', '201', 'abc', '-1']) {
      expectParameterProblem(
        await call('GET', `${path}?limit=${limit}`, { token: tokens.admin }),
        'limit',
        path,
      );
    }
    for (const cursor of [
      'garbage!',
      Buffer.from('[0]').toString('base64url'),
      Buffer.from('{"technician_id":1}').toString('base64url'),
      Buffer.from('["1) OR (1=1"]').toString('base64url'),
    ]) {
      expectParameterProblem(
        await call('GET', `${path}?cursor=${encodeURIComponent(cursor)}`, { token: tokens.admin }),
        'cursor',
        path,
      );
    }
    expectParameterProblem(
      await call('GET', `${path}?active=true`, { token: tokens.admin }),
      'active',
      path,
    );
    const twice = await call('GET', `${path}?limit=1&limit=2`, { token: tokens.admin });
    expectProblem(twice, 400, path);
    expect(twice.body.errors).toEqual([{ parameter: 'limit', detail: expect.any(String) }]);
  });
});

describe('assignments: unassign', () => {
  it('answers 204, then 404 when repeated, leaving other assignments and both rows alone', async () => {
    const equipmentId = await newEquipmentId();
    const t1 = await createTechnician();
    const t2 = await createTechnician();
    expect((await assign(equipmentId, t1.id)).status).toBe(201);
    expect((await assign(equipmentId, t2.id)).status).toBe(201);
    const path = `/api/equipment/${equipmentId}/technicians/${t1.id}`;
    const res = await call('DELETE', path, { token: tokens.admin });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(await assignmentRows()).toEqual([{ equipment_id: equipmentId, technician_id: t2.id }]);
    expect(await rows('SELECT id FROM technicians ORDER BY id')).toEqual([
      { id: t1.id },
      { id: t2.id },
    ]);
    expect(await rows('SELECT id FROM equipment')).toEqual([{ id: equipmentId }]);

    await expectNothingChanged(async () => {
      const again = await call('DELETE', path, { token: tokens.admin });
      expectProblem(again, 404, path);
      expect(again.body.detail).toMatch(/not assigned/);
    });
    expect(await listedTechnicianIds(equipmentId)).toEqual([t2.id]);
  });

  it('answers 404 for unknown equipment, an unknown technician, or one assigned elsewhere', async () => {
    const equipmentId = await newEquipmentId();
    const other = await newEquipmentId();
    const tech = await createTechnician();
    expect((await assign(other, tech.id)).status).toBe(201);
    await expectNothingChanged(async () => {
      for (const path of [
        `/api/equipment/${other + 100}/technicians/${tech.id}`,
        `/api/equipment/${equipmentId}/technicians/${tech.id + 100}`,
        `/api/equipment/${equipmentId}/technicians/${tech.id}`,
      ]) {
        expectProblem(await call('DELETE', path, { token: tokens.admin }), 404, path);
      }
    });
  });
});

describe('assignments: lifecycle with equipment and technicians', () => {
  it('removes the assignments of deleted equipment but keeps the technicians', async () => {
    const gone = await newEquipmentId();
    const kept = await newEquipmentId();
    const t1 = await createTechnician();
    const t2 = await createTechnician();
    for (const [e, t] of [
      [gone, t1.id],
      [gone, t2.id],
      [kept, t2.id],
    ] as const) {
      expect((await assign(e, t)).status).toBe(201);
    }
    expect((await call('DELETE', `/api/equipment/${gone}`, { token: tokens.admin })).status).toBe(
      204,
    );
    expect(await assignmentRows()).toEqual([{ equipment_id: kept, technician_id: t2.id }]);
    expect(await rows('SELECT COUNT(*) n FROM technicians')).toEqual([{ n: 2 }]);
    const path = `/api/equipment/${gone}/technicians`;
    expectProblem(await call('GET', path, { token: tokens.admin }), 404, path);
    // With the assignment gone, t1 is no longer referenced and can be deleted.
    expect(
      (await call('DELETE', `/api/technicians/${t1.id}`, { token: tokens.admin })).status,
    ).toBe(204);
  });

  it('keeps equipment and its assignments when its delete is refused for service records', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    expect((await assign(equipmentId, tech.id)).status).toBe(201);
    await insertServiceRecord(db.pool, equipmentId);
    await expectNothingChanged(async () => {
      expectProblem(
        await call('DELETE', `/api/equipment/${equipmentId}`, { token: tokens.admin }),
        409,
        `/api/equipment/${equipmentId}`,
      );
    });
    expect(await listedTechnicianIds(equipmentId)).toEqual([tech.id]);
  });

  it('refuses to delete an assigned technician with 409', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    expect((await assign(equipmentId, tech.id)).status).toBe(201);
    await expectNothingChanged(async () => {
      expectProblem(
        await call('DELETE', `/api/technicians/${tech.id}`, { token: tokens.admin }),
        409,
        `/api/technicians/${tech.id}`,
      );
    });
  });

  it('lists a technician with a hostile name verbatim', async () => {
    const equipmentId = await newEquipmentId();
    const name = "'; DROP TABLE equipment_technicians; -- \u0000 👷 עברית \\";
    const tech = await createTechnician({ name });
    expect((await assign(equipmentId, tech.id)).status).toBe(201);
    const list = await call('GET', `/api/equipment/${equipmentId}/technicians`, {
      token: tokens.admin,
    });
    expect(list.body.items[0].technician.name).toBe(name);
    expect(await assignmentRows()).toEqual([{ equipment_id: equipmentId, technician_id: tech.id }]);
  });
});

describe('assignments: bad ids', () => {
  const bad = ['abc', '0', '-1', '1.5', '99999999999999999999'];

  it.each(bad)('answers 400 for the bad equipment id %j on every route', async (id) => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    expect((await assign(equipmentId, tech.id)).status).toBe(201);
    await expectNothingChanged(async () => {
      const list = `/api/equipment/${id}/technicians`;
      expectProblem(await call('GET', list, { token: tokens.admin }), 400, list);
      const item = `/api/equipment/${id}/technicians/${tech.id}`;
      expectProblem(await call('PUT', item, { token: tokens.admin }), 400, item);
      expectProblem(await call('DELETE', item, { token: tokens.admin }), 400, item);
    });
  });

  it.each(bad)('answers 400 for the bad technician id %j on assign and unassign', async (id) => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    expect((await assign(equipmentId, tech.id)).status).toBe(201);
    await expectNothingChanged(async () => {
      const item = `/api/equipment/${equipmentId}/technicians/${id}`;
      expectProblem(await call('PUT', item, { token: tokens.admin }), 400, item);
      expectProblem(await call('DELETE', item, { token: tokens.admin }), 400, item);
    });
  });

  it('names which path parameter is bad', async () => {
    const equipmentId = await newEquipmentId();
    const badTechnician = `/api/equipment/${equipmentId}/technicians/abc`;
    expectParameterProblem(
      await call('PUT', badTechnician, { token: tokens.admin }),
      'technicianId',
      badTechnician,
    );
    const badEquipment = '/api/equipment/abc/technicians/1';
    expectParameterProblem(
      await call('PUT', badEquipment, { token: tokens.admin }),
      'id',
      badEquipment,
    );
  });
});

describe('assignments: authentication and roles', () => {
  it('answers 401 on every route without a valid token', async () => {
    const equipmentId = await newEquipmentId();
    const tech = await createTechnician();
    expect((await assign(equipmentId, tech.id)).status).toBe(201);
    const list = `/api/equipment/${equipmentId}/technicians`;
    const item = `${list}/${tech.id}`;
    const expired = await issuer.token(['Admin'], 'test-admin', '1 hour ago');
    await expectNothingChanged(async () => {
      for (const token of [undefined, 'garbage', expired]) {
        for (const [method, path] of [
          ['GET', list],
          ['PUT', item],
          ['DELETE', item],
        ] as const) {
          const res = await call(method, path, token ? { token } : {});
          expectProblem(res, 401, path);
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        }
      }
    });
  });

  it('answers 403 to a technician assigning or unassigning, and changes nothing', async () => {
    const equipmentId = await newEquipmentId();
    const assigned = await createTechnician();
    const unassigned = await createTechnician({ externalId: 'tech-sub' });
    expect((await assign(equipmentId, assigned.id)).status).toBe(201);
    await expectNothingChanged(async () => {
      const add = `/api/equipment/${equipmentId}/technicians/${unassigned.id}`;
      expectProblem(await call('PUT', add, { token: tokens.technician }), 403, add);
      const repeat = `/api/equipment/${equipmentId}/technicians/${assigned.id}`;
      expectProblem(await call('PUT', repeat, { token: tokens.technician }), 403, repeat);
      expectProblem(await call('DELETE', repeat, { token: tokens.technician }), 403, repeat);
    });
    const read = await call('GET', `/api/equipment/${equipmentId}/technicians`, {
      token: tokens.technician,
    });
    expect(read.status).toBe(200);
    expect(technicianIds(read)).toEqual([assigned.id]);
  });

  it('answers 403 to a caller with no role, even for the list', async () => {
    const equipmentId = await newEquipmentId();
    const nobody = await issuer.token([], 'x');
    const path = `/api/equipment/${equipmentId}/technicians`;
    expectProblem(await call('GET', path, { token: nobody }), 403, path);
  });
});
